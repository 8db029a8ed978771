using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using Microsoft.Extensions.DependencyInjection.Extensions;
using LlmCost.Functions.Apis.Otlp;
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
        services.AddOptions<OtlpIngestOptions>().BindConfiguration(OtlpIngestOptions.Section)
            .Validate(o => o.IsValid(out _), $"{OtlpIngestOptions.Section} is invalid (see OtlpIngestOptions)").ValidateOnStart();
        services.AddUsageStorage();
        // The built-in genai-prices catalog; a module that registers its own IPriceCalculator (e.g. with tenant
        // overrides) before this one wins.
        services.TryAddSingleton<IPriceCalculator>(PricingEngine.Default);
        services.AddSingleton<UsageRecorder>();
        services.AddBackgroundFunction<UsageScopeRepairFunction>();
        return services;
    }

    public static IEndpointRouteBuilder MapUsageModule(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapUsageEndpoints();
        endpoints.MapOtlpEndpoints();
        return endpoints;
    }
}
