using LlmCost.Core.Budgets;

namespace LlmCost.Functions.Apis.Budgets;

/// <summary>
/// Every minute: closes reservations whose expiry passed unsettled and removes their worst case from the lanes
/// holding them (until then they count: the safe side). About once an hour it also prunes applied-event markers
/// and closed reservations that can no longer matter (bounded work per run).
/// </summary>
public sealed partial class BudgetReservationExpiryFunction(BudgetService service, TimeProvider time, ILogger<BudgetReservationExpiryFunction> logger) : IBackgroundFunction
{
    private static readonly TimeSpan PruneEvery = TimeSpan.FromHours(1);
    private DateTimeOffset _lastPrune = DateTimeOffset.MinValue;

    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("BudgetReservationExpiry", "0 */1 * * * *");

    public async Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        var expired = await service.ExpireReservationsAsync(cancellationToken).ConfigureAwait(false);
        if (expired > 0)
        {
            LogExpired(logger, expired);
        }

        var now = time.GetUtcNow();
        if (now - _lastPrune >= PruneEvery)
        {
            _lastPrune = now;
            var pruned = await service.PruneAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            if (pruned > 0)
            {
                LogPruned(logger, pruned);
            }
        }
    }

    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "Expired {Count} unsettled budget reservations")]
    private static partial void LogExpired(ILogger logger, int count);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Pruned {Count} budget rows that can no longer matter")]
    private static partial void LogPruned(ILogger logger, int count);
}
