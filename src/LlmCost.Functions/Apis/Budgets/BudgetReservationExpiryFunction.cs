using LlmCost.Core.Budgets;
using LlmCost.Functions.Hosting;

namespace LlmCost.Functions.Apis.Budgets;

/// <summary>
/// Every minute: closes reservations whose expiry passed unsettled and removes them from the period states.
/// They already stopped counting at their expiry (the state ignores expired holds); this keeps rows small and
/// makes "nothing left behind" observable.
/// </summary>
public sealed partial class BudgetReservationExpiryFunction(BudgetService service, ILogger<BudgetReservationExpiryFunction> logger) : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("BudgetReservationExpiry", "0 */1 * * * *");

    public async Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        var expired = await service.ExpireReservationsAsync(cancellationToken).ConfigureAwait(false);
        if (expired > 0)
        {
            LogExpired(logger, expired);
        }
    }

    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "Expired {Count} unsettled budget reservations")]
    private static partial void LogExpired(ILogger logger, int count);
}
