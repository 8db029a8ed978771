using LlmCost.Core.Budgets;

namespace LlmCost.Core.Alerts;

/// <summary>The budgets module's recorded alerts (<see cref="IPendingAlertSource"/>) as an outbox the dispatch timer drains.</summary>
public sealed class PendingAlertOutbox(IPendingAlertSource pending) : IAlertOutboxSource
{
    public Task<IReadOnlyList<Alert>> ReadPendingAsync(int max, CancellationToken cancellationToken = default) =>
        pending.ListPendingAsync(null, max, cancellationToken);

    public Task AcknowledgeAsync(IReadOnlyList<Alert> alerts, CancellationToken cancellationToken = default) =>
        pending.MarkDispatchedAsync(alerts, cancellationToken);
}
