using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using Microsoft.Extensions.DependencyInjection.Extensions;
using LlmCost.Functions.Apis.Otlp;
using LlmCost.Functions.Apis.Recording;
using LlmCost.Storage.Recording;

namespace LlmCost.Functions;

/// <summary>The Usage module: recording, pricing and querying usage. Registers its services and maps its endpoints and functions.</summary>
public static class RecordingModule
{
    public static IServiceCollection AddRecordingModule(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<UsageApiOptions>().BindConfiguration(UsageApiOptions.Section)
            .Validate(o => o is { MaxBodyBytes: > 0, MaxEventsPerRequest: > 0, MaxQueryDays: > 0, DefaultPageSize: > 0 } && o.DefaultPageSize <= o.MaxPageSize,
                $"{UsageApiOptions.Section}: limits must be positive and DefaultPageSize at most MaxPageSize")
            .ValidateOnStart();
        services.AddOptions<OtlpIngestOptions>().BindConfiguration(OtlpIngestOptions.Section)
            .Validate(o => o.IsValid(out _), $"{OtlpIngestOptions.Section} is invalid (see OtlpIngestOptions)").ValidateOnStart();
        services.AddRecordingStorage();
        // The built-in genai-prices catalog; a module that registers its own IPriceCalculator (e.g. with tenant
        // overrides) before this one wins.
        services.TryAddSingleton<IPriceCalculator>(PricingEngine.Default);
        services.AddSingleton<UsageRecorder>();
        // Archived days are answered from the rollups where the operations module keeps them.
        services.AddSingleton(sp => new UsageQueryService(sp.GetRequiredService<IUsageSummaryReader>(), sp.GetService<LlmCost.Core.Retention.ArchivedUsage>()));
        services.AddBackgroundFunction<UsageScopeRepairFunction>();
        return services;
    }

    public static IEndpointRouteBuilder MapRecordingModule(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapUsageEndpoints();
        endpoints.MapOtlpEndpoints();
        return endpoints;
    }
}
