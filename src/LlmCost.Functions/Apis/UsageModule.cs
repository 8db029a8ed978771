namespace LlmCost.Functions;

/// <summary>The Usage module: recording usage (issue 4). Registers its services and maps its endpoints and functions.</summary>
public static class UsageModule
{
    public static IServiceCollection AddUsageModule(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services;
    }

    public static IEndpointRouteBuilder MapUsageModule(this IEndpointRouteBuilder endpoints)
    {
        return endpoints;
    }
}
