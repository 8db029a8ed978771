using System.Globalization;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Advice;
using Microsoft.Extensions.Logging;

namespace LlmCost.Storage.Advice;

/// <summary>
/// Budget decisions for business metrics, one row per decision in partition <c>{tenant}|{yyyyMMdd}</c> (the
/// decision's UTC day), row key = decision id. A row per decision, not a counter: a counter row of a busy tenant
/// would be one ETag hot spot contended by every authorisation, and a blind increment would count a retried
/// authorisation twice; an upsert keyed by the reservation id is idempotent and never contended. Counting reads
/// the period's day partitions (an on-demand metrics query, not a hot path).
/// </summary>
public sealed partial class TableBudgetDecisionLog(LlmCostStorage storage, ILogger<TableBudgetDecisionLog> logger) : IBudgetDecisionLog
{
    public const string TableName = "budgetdecisions";

    /// <summary>Writes still on their way: a count on this instance waits for them (read-your-writes).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Task, byte> _inFlight = new();

    private TableClient Table => storage.Table(TableName);

    /// <summary>
    /// Starts the write and returns it; the authorise endpoint does not wait for it, so the decision is answered
    /// after one storage round trip (its own), and a count on this instance first waits for what is in flight.
    /// </summary>
    public Task RecordAsync(BudgetDecisionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        Task write = WriteAsync(record, cancellationToken);
        if (!write.IsCompleted)
        {
            _inFlight[write] = 0;
            _ = write.ContinueWith(t => _inFlight.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return write;
    }

    private async Task WriteAsync(BudgetDecisionRecord record, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(Partition(record.TenantId, DateOnly.FromDateTime(record.At.UtcDateTime)), StorageKeys.Escape(record.DecisionId))
        {
            ["At"] = record.At,
            ["Outcome"] = record.Outcome,
            ["TeamId"] = record.TeamId,
            ["Provider"] = record.Provider,
            ["Model"] = record.Model,
            ["SuggestedProvider"] = record.SuggestedProvider,
            ["SuggestedModel"] = record.SuggestedModel,
            ["ReservationId"] = record.ReservationId,
            ["ReservedUsd"] = record.ReservedUsd.ToString(CultureInfo.InvariantCulture),
        };
        try
        {
            // Replace, not merge: a retried authorisation re-states the same decision.
            await Table.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The decision was made and is answered; only its count for the metrics is lost.
            LogNotRecorded(logger, ex, record.Outcome);
        }
    }

    public async Task<BudgetDecisionCounts?> CountAsync(string tenantId, string? teamId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        try
        {
            // A bound on waiting, not a timestamp: real time.
            await Task.WhenAll(_inFlight.Keys).WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Counted with what has landed; the rest is counted by the next read.
        }

        var records = new List<BudgetDecisionRecord>();
        await foreach (BudgetDecisionRecord r in ReadAsync(tenantId, from, to, cancellationToken).ConfigureAwait(false))
        {
            if (teamId is null || string.Equals(r.TeamId, teamId, StringComparison.Ordinal))
            {
                records.Add(r);
            }
        }

        return BudgetDecisionRecord.Count(records);
    }

    public async Task<IReadOnlyDictionary<string, RequestedModel>> DowngradesAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        var downgrades = new Dictionary<string, RequestedModel>(StringComparer.Ordinal);
        // A downgraded call is recorded a little after its authorisation: look one day back for the reservation.
        await foreach (BudgetDecisionRecord r in ReadAsync(tenantId, from.AddDays(-1), to, cancellationToken).ConfigureAwait(false))
        {
            if (r.Outcome == BudgetDecisionOutcomes.Downgraded && r.ReservationId is { } reservation)
            {
                downgrades[reservation] = new RequestedModel(r.Provider, r.Model);
            }
        }

        return downgrades;
    }

    private async IAsyncEnumerable<BudgetDecisionRecord> ReadAsync(
        string tenantId, DateTimeOffset from, DateTimeOffset to,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (to <= from)
        {
            yield break;
        }

        DateOnly first = DateOnly.FromDateTime(from.UtcDateTime);
        DateOnly last = DateOnly.FromDateTime(to.UtcDateTime.AddTicks(-1));
        for (DateOnly day = first; day <= last; day = day.AddDays(1))
        {
            string partition = Partition(tenantId, day);
            AsyncPageable<TableEntity> rows = Table.QueryAsync<TableEntity>(e => e.PartitionKey == partition, cancellationToken: cancellationToken);
            await foreach (TableEntity row in rows.ConfigureAwait(false))
            {
                DateTimeOffset at = row.GetDateTimeOffset("At") ?? DateTimeOffset.MinValue;
                if (at < from || at >= to)
                {
                    continue;
                }

                yield return new BudgetDecisionRecord
                {
                    TenantId = tenantId,
                    TeamId = row.GetString("TeamId"),
                    DecisionId = row.RowKey,
                    At = at,
                    Outcome = row.GetString("Outcome") ?? string.Empty,
                    Provider = row.GetString("Provider") ?? string.Empty,
                    Model = row.GetString("Model") ?? string.Empty,
                    SuggestedProvider = row.GetString("SuggestedProvider"),
                    SuggestedModel = row.GetString("SuggestedModel"),
                    ReservationId = row.GetString("ReservationId"),
                    ReservedUsd = decimal.TryParse(row.GetString("ReservedUsd"), NumberStyles.Number, CultureInfo.InvariantCulture, out decimal reserved) ? reserved : 0m,
                };
            }
        }
    }

    private static string Partition(string tenantId, DateOnly day)
    {
        StorageKeys.EnsureId(tenantId, nameof(tenantId));
        return StorageKeys.Compose(tenantId, StorageKeys.Day(day));
    }

    [LoggerMessage(EventId = 7100, Level = LogLevel.Warning, Message = "A budget decision ({Outcome}) was answered but not recorded for the business metrics")]
    private static partial void LogNotRecorded(ILogger logger, Exception exception, string outcome);
}
