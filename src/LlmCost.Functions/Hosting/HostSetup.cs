using LlmCost.Functions.Hosting;

namespace LlmCost.Functions;

/// <summary>
/// Host plumbing shared by every module: URLs (the Functions host's FUNCTIONS_CUSTOMHANDLER_PORT, else PORT,
/// else 7071, always on 127.0.0.1), problem details, OpenAPI, TimeProvider, storage, the custom-handler
/// invocation endpoints and standalone mode. Owned by the usage/hosting work (issue 4).
/// </summary>
public static class HostSetup
{
    public static WebApplicationBuilder ConfigureLlmCostHost(this WebApplicationBuilder builder)
    {
        var port = builder.Configuration["FUNCTIONS_CUSTOMHANDLER_PORT"] ?? builder.Configuration["PORT"] ?? "7071";
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddCustomHandler(builder.Configuration);
        return builder;
    }

    public static WebApplication UseLlmCostHost(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapOpenApi();
        // The Functions host pings GET / until any response comes back.
        app.MapGet("/", () => TypedResults.Ok(new { service = "llmcost", status = "ok" })).ExcludeFromDescription();
        app.MapCustomHandler();
        return app;
    }
}
