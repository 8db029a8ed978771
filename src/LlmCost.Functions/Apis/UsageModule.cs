using LlmCost.Core.Recording;
using LlmCost.Functions.Apis.Usage;
using LlmCost.Functions.Hosting;
using LlmCost.Storage.Usage;

namespace LlmCost.Functions;

/// <summary>The Usage module: recording usage (issue 4). Registers its services and maps its endpoints and functions.</summary>
public static class UsageModule
{
    public static IServiceCollection AddUsageModule(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<UsageApiOptions>().BindConfiguration(UsageApiOptions.Section);
        services.AddUsageStorage();
        services.AddSingleton<UsageRecorder>();
        services.AddBackgroundFunction<UsageScopeRepairFunction>();
        return services;
    }

    public static IEndpointRouteBuilder MapUsageModule(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapUsageEndpoints();
        return endpoints;
    }
}
