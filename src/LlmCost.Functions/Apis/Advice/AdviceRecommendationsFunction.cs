using LlmCost.Core.Advice;
using LlmCost.Core.Rollups;

namespace LlmCost.Functions.Apis.Advice;

/// <summary>
/// Daily at 01:15 UTC (after the night's rollups and reports): each tenant's recommendations for the last 7 whole
/// days into storage, and on Mondays the weekly digest through the alert channels.
/// </summary>
public sealed partial class AdviceRecommendationsFunction(IServiceProvider services, ILogger<AdviceRecommendationsFunction> logger) : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("AdviceRecommendations", "0 15 1 * * *");

    public async Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        var tenants = await services.GetRequiredService<IRollupStore>().ListTenantsAsync(cancellationToken).ConfigureAwait(false);
        var result = await services.GetRequiredService<RecommendationRunner>().RunAsync(tenants, cancellationToken).ConfigureAwait(false);
        LogRun(logger, result.Tenants, result.Recommendations, result.Digests);
    }

    [LoggerMessage(EventId = 7000, Level = LogLevel.Information, Message = "Recommendations: {Tenants} tenants, {Recommendations} recommendations stored, {Digests} weekly digests raised")]
    private static partial void LogRun(ILogger logger, int tenants, int recommendations, int digests);
}
