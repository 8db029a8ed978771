namespace LlmCost.Functions.Hosting;

/// <summary>
/// The Azure Functions custom-handler side of the host: POST /{FunctionName} invocations for timer and queue
/// functions, the function catalog (from endpoints + background functions) that function.json is generated
/// from, and standalone mode (own timers with a blob lease, own queue polling with poison queues).
/// Owned by the deployment work (issue 7).
/// </summary>
public static class CustomHandler
{
    public static IServiceCollection AddCustomHandler(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services;
    }

    public static WebApplication MapCustomHandler(this WebApplication app)
    {
        return app;
    }
}
