namespace LlmCost.Functions;

/// <summary>The Operations module: timers and queues: rollups, anomalies, forecasts, alerts, reports, retention (issue 6). Registers its services and maps its endpoints and functions.</summary>
public static class OperationsModule
{
    public static IServiceCollection AddOperationsModule(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services;
    }

    public static IEndpointRouteBuilder MapOperationsModule(this IEndpointRouteBuilder endpoints)
    {
        return endpoints;
    }
}
