using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Audit;
using LlmCost.Core.Budgets;

namespace LlmCost.Storage.Budgets;

/// <summary>
/// The budget module writes each audit line in the same transaction as the change it describes (an "au|" row of
/// the tenant's budget partition), so a change is never committed without its line; those rows are the pending
/// outbox that <see cref="AuditTrail"/> moves into the one audit log.
/// </summary>
public sealed class BudgetAuditOutbox(LlmCostStorage storage, IBudgetRepository budgets) : IAuditOutbox
{
    private TableClient Table => storage.Table(TableBudgetStore.TableName);

    public Task<IReadOnlyList<AuditEntry>> PendingAsync(string tenantId, int max, CancellationToken cancellationToken = default) =>
        budgets.ListAuditAsync(tenantId, max, cancellationToken);

    public async Task RemoveAsync(string tenantId, IReadOnlyCollection<AuditEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var chunk in entries.Chunk(100))
        {
            var actions = chunk.Select(e => new TableTransactionAction(TableTransactionActionType.Delete,
                new TableEntity(TableBudgetStore.Partition(tenantId), TableBudgetStore.AuditRowKey(e)), ETag.All)).ToList();
            bool removed;
            try
            {
                removed = (await OptimisticConcurrency.SubmitAsync(Table, actions, cancellationToken).ConfigureAwait(false)).Succeeded;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 404)
            {
                removed = false;
            }

            if (!removed)
            {
                // Another reader drained some of them meanwhile: delete the rest one by one (a missing row is done).
                foreach (var action in actions)
                {
                    await Table.DeleteEntityAsync(action.Entity.PartitionKey, action.Entity.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }
}
