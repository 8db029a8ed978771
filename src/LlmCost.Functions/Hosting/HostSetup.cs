using System.Text.Json;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Hosting.Auth;
using LlmCost.Storage;
using Microsoft.AspNetCore.Diagnostics;

namespace LlmCost.Functions;

/// <summary>
/// Host plumbing shared by every module: URLs (the Functions host's FUNCTIONS_CUSTOMHANDLER_PORT, else PORT,
/// else 7071, always on 127.0.0.1), snake_case JSON, problem details, OpenAPI, TimeProvider, storage, API-key
/// auth, the custom-handler invocation endpoints and standalone mode. Owned by the usage/hosting work (issue 4).
/// </summary>
public static class HostSetup
{
    public static WebApplicationBuilder ConfigureLlmCostHost(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var port = builder.Configuration["FUNCTIONS_CUSTOMHANDLER_PORT"] ?? builder.Configuration["PORT"] ?? "7071";
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.DictionaryKeyPolicy = null;
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<LlmCostExceptionHandler>();
        builder.Services.AddOpenApi();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddLlmCostStorage(builder.Configuration);
        builder.Services.AddLlmCostAuth(builder.Configuration);
        builder.Services.AddCustomHandler(builder.Configuration);
        return builder;
    }

    public static WebApplication UseLlmCostHost(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapOpenApi();
        // The Functions host pings GET / until any response comes back.
        app.MapGet("/", () => TypedResults.Ok(new { service = "llmcost", status = "ok" })).ExcludeFromDescription();
        app.MapApiKeyEndpoints();
        app.MapCustomHandler();
        return app;
    }
}

/// <summary>
/// Maps what escapes an endpoint to problem details: malformed requests Kestrel or the binder rejected keep
/// their 4xx (400, 413), storage contention becomes 503 with Retry-After, anything else stays a 500.
/// </summary>
internal sealed class LlmCostExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        (int status, string title, string? detail) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == 413 ? "Payload too large" : "Bad request", bad.Message),
            JsonException json => (400, "Bad request", $"malformed JSON at {json.Path ?? "$"}"),
            StorageContentionException => (503, "Busy", "storage contention; retry shortly"),
            LlmCost.Core.Budgets.BudgetUnavailableException unavailable => (503, "Budgets unavailable", unavailable.Message),
            _ => (500, "Internal error", null),
        };
        if (status == 500)
        {
            return false;
        }

        if (status == 503)
        {
            var retryAfter = exception is LlmCost.Core.Budgets.BudgetUnavailableException { RetryAfter: var wait } ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
            httpContext.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }
}
