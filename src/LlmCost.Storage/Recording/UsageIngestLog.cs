using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using LlmCost.Core.Telemetry;

namespace LlmCost.Storage.Recording;

/// <summary>Tuning of the ingest log and its projector (<c>LlmCost:Usage:Ingest</c>).</summary>
public sealed class UsageIngestOptions
{
    public const string Section = "LlmCost:Usage:Ingest";

    /// <summary>
    /// Log partitions per tenant. More shards spread a hot tenant over more partitions (Table Storage's ~2,000
    /// entities/s each) at the cost of more, smaller transactions per batch. Changing it is safe for new events
    /// only: an id is looked up in the shard its hash selects, so keep it fixed once events are recorded.
    /// </summary>
    public int Shards { get; set; } = 4;

    /// <summary>Events per log transaction: an id row each plus ONE batch row, so 99 fill the 100-action limit.</summary>
    public int MaxEventsPerTransaction { get; set; } = 99;

    /// <summary>Log transactions one instance keeps in flight per shard partition.</summary>
    public int MaxInFlightPerShard { get; set; } = 2;

    /// <summary>
    /// Storage requests the projector keeps in flight on this instance (user-day and team/tenant transactions). Kept
    /// small so a burst's projection never crowds out the requests that answer clients.
    /// </summary>
    public int ProjectionConcurrency { get; set; } = 4;

    /// <summary>
    /// Longest a projection cycle waits while the ingest log is busy answering clients (the hot path first; a later
    /// cycle is larger and cheaper per event). Zero projects at once.
    /// </summary>
    public TimeSpan ProjectionDeferral { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most pending events one projection cycle applies (larger cycles amortise more under load).</summary>
    public int MaxProjectionBatch { get; set; } = 2000;

    /// <summary>How often the sweep looks for pending rows another instance (or a failed cycle) left behind.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A pending row younger than this belongs to its writer's own projector; the sweep leaves it alone.</summary>
    public TimeSpan SweepAge { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How far back the sweep looks in the active-shards index.</summary>
    public TimeSpan ActiveWindow { get; set; } = TimeSpan.FromDays(3);

    /// <summary>Longest a query waits for this instance's projector to apply what it acknowledged before the query.</summary>
    public TimeSpan ReadBarrierTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>When false, nothing projects in the background (tests that drive the projector by hand).</summary>
    public bool RunProjector { get; set; } = true;

    public bool IsValid() =>
        Shards is >= 1 and <= 64 && MaxEventsPerTransaction is >= 1 and <= 99 && MaxInFlightPerShard is >= 1 and <= 16
        && MaxProjectionBatch is >= 1 and <= 100_000 && ProjectionConcurrency is >= 1 and <= 256 && SweepInterval > TimeSpan.Zero && SweepAge >= TimeSpan.Zero
        && ActiveWindow > TimeSpan.Zero && ProjectionDeferral >= TimeSpan.Zero && ProjectionDeferral <= TimeSpan.FromMinutes(1) && ReadBarrierTimeout >= TimeSpan.Zero;
}

/// <summary>
/// The ingest log table <c>usageingest</c> and its index <c>usageingestactive</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>PartitionKey <c>{tenant}|{shard:D2}</c>, shard = FNV-1a of the UTF-8 event id modulo
/// <see cref="UsageIngestOptions.Shards"/> (a hash fixed here forever, never <c>string.GetHashCode</c>).</item>
/// <item><b>Id row</b>: RowKey = event id, Kind "id": user, UTC day, cost, priced, reason, received time. The
/// tenant-wide idempotency record: a second Add of the same id fails with 409 whatever user or timestamp the
/// resend carries. Kept as long as the raw event (retention and GDPR delete remove it with the event).</item>
/// <item><b>Batch row</b>: RowKey <c>~p|{receivedTicks:D19}|~{batchId}</c>, Kind "batch": every event of one log
/// transaction (<see cref="IngestBatchRow"/>), written in the SAME transaction as their id rows: the durable intent
/// that those events will reach their user-day partitions, the team/tenant rows, the indexes and the observers.
/// Deleted once every event in it is applied. Event ids never start with '~', so the key cannot collide with the
/// previous format's pending rows (<c>~p|{ticks}|{eventId}</c>, Kind "pending", one event each), which the
/// projector still reads and applies (rows left by the previous version at an upgrade).</item>
/// <item><c>usageingestactive</c>: PartitionKey "active", RowKey <c>{tenant}|{shard:D2}</c>, <c>LastWrite</c> =
/// the hour of the latest write (upserted once per shard and hour, before the first log write of that hour):
/// how the sweep finds partitions that may hold pending rows without scanning the log.</item>
/// </list>
/// </remarks>
public static class UsageIngestLog
{
    public const string Table = "usageingest";
    public const string ActiveTable = "usageingestactive";
    public const string ActivePartition = "active";

    /// <summary>Every row still to be applied (batch rows, and one-event rows of the previous format) starts with this.</summary>
    public const string PendingPrefix = "~p|";

    /// <summary>Sorts after every pending key ('}' follows '|').</summary>
    public const string PendingPrefixEnd = "~p}";

    public const string KindId = "id";

    /// <summary>A one-event pending row of the previous format (read, never written).</summary>
    public const string KindPending = "pending";

    public const string KindBatch = IngestBatchRow.Kind;

    /// <summary>FNV-1a (32 bit) of the UTF-8 bytes: stable across processes, versions and platforms.</summary>
    public static int Shard(string eventId, int shards)
    {
        ArgumentNullException.ThrowIfNull(eventId);
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        uint hash = 2166136261;
        Span<byte> buffer = stackalloc byte[512];
        int length = Encoding.UTF8.GetByteCount(eventId);
        Span<byte> bytes = length <= buffer.Length ? buffer[..length] : new byte[length];
        Encoding.UTF8.GetBytes(eventId, bytes);
        foreach (byte b in bytes)
        {
            hash = (hash ^ b) * 16777619;
        }

        return (int)(hash % (uint)shards);
    }

    public static string Partition(string tenantId, int shard) =>
        StorageKeys.Compose(tenantId, shard.ToString("D2", CultureInfo.InvariantCulture));

    /// <summary>The batch row of a transaction whose oldest event was received at <paramref name="receivedAt"/>.</summary>
    public static string BatchRowKey(DateTimeOffset receivedAt, string batchId) =>
        $"{PendingPrefix}{receivedAt.UtcTicks.ToString("D19", CultureInfo.InvariantCulture)}|{RecordKeys.ReservedRowPrefix}{batchId}";

    /// <summary>The upper bound (exclusive) of pending keys received before <paramref name="before"/>.</summary>
    public static string PendingKeyBefore(DateTimeOffset before) =>
        $"{PendingPrefix}{before.UtcTicks.ToString("D19", CultureInfo.InvariantCulture)}";

    public static bool TryParsePendingTicks(string rowKey, out DateTimeOffset receivedAt)
    {
        receivedAt = default;
        if (rowKey.Length < PendingPrefix.Length + 19 || !rowKey.StartsWith(PendingPrefix, StringComparison.Ordinal)
            || !long.TryParse(rowKey.AsSpan(PendingPrefix.Length, 19), NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)
            || ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            return false;
        }

        receivedAt = new DateTimeOffset(ticks, TimeSpan.Zero);
        return true;
    }

    public static string ActiveHour(DateTimeOffset time) => time.UtcDateTime.ToString("yyyyMMddHH", CultureInfo.InvariantCulture);

    internal static TableEntity IdEntity(string partitionKey, UsageEvent e, string writeId) => UsageRows.WithoutNulls(new TableEntity(partitionKey, e.EventId)
    {
        ["Kind"] = KindId,
        ["UserId"] = e.UserId,
        ["Day"] = StorageKeys.Day(e.UtcDay),
        ["CostUsd"] = UsageRows.Money(e.CostUsd),
        ["Priced"] = e.Priced,
        ["UnpricedReason"] = e.UnpricedReason,
        ["ReceivedAt"] = e.RecordedAt,
        ["WriteId"] = writeId,
    });

    /// <summary>
    /// The events of a pending row: a batch row's, or the one event of a previous-format row. Throws
    /// <see cref="InvalidDataException"/> (or a format error) for a row this version cannot read exactly.
    /// </summary>
    internal static List<UsageEvent> ReadPending(TableEntity entity)
    {
        if (IngestBatchRow.IsBatch(entity))
        {
            return IngestBatchRow.Read(entity);
        }

        if (entity.GetString("Kind") != KindPending)
        {
            throw new InvalidDataException($"row {entity.RowKey} is neither a batch nor a pending row");
        }

        string eventId = entity.GetString("EventId") ?? throw new InvalidDataException($"pending row {entity.RowKey} has no EventId");
        var copy = new TableEntity(entity) { RowKey = eventId };
        return [UsageRows.ToEvent(copy)];
    }

    internal static RecordOutcome OutcomeFromId(TableEntity idRow, UsageEvent resent) => new(
        resent.EventId,
        resent.EventIdGenerated,
        true,
        UsageRows.ParseMoney(idRow.GetString("CostUsd")),
        idRow.GetBoolean("Priced") ?? false,
        idRow.GetString("UnpricedReason"));

    /// <summary>
    /// A generous upper bound of the bytes an id row adds to a transaction body (JSON, UTF-8, multipart headers),
    /// so the 4 MiB body limit is checked whatever ids and reasons the events carry.
    /// </summary>
    internal static int IdRowWireBytes(UsageEvent e) =>
        1_500 + (e.EventId.Length * 2 + e.TenantId.Length + e.UserId.Length + (e.UnpricedReason?.Length ?? 0)) * 6;
}

/// <summary>The ingest path's instruments on the shared "LlmCost" meter.</summary>
internal static class IngestMetrics
{
    public static readonly Counter<long> Events = LlmCostTelemetry.Meter.CreateCounter<long>(
        "llmcost.ingest.events", "{event}", "Events answered by the ingest log, by outcome (recorded, duplicate).");

    public static readonly Histogram<int> TransactionEvents = LlmCostTelemetry.Meter.CreateHistogram<int>(
        "llmcost.ingest.transaction.events", "{event}", "Events per ingest-log transaction (group commit).");

    public static readonly Histogram<int> RequestEvents = LlmCostTelemetry.Meter.CreateHistogram<int>(
        "llmcost.ingest.request.events", "{event}", "Events per recording call (a POST /api/usage).");

    public static readonly Histogram<double> CommitDuration = LlmCostTelemetry.Meter.CreateHistogram<double>(
        "llmcost.ingest.duration", "ms", "Time from handing events to the ingest log until they are durable (or found duplicate).");

    public static readonly Counter<long> StorageEntities = LlmCostTelemetry.Meter.CreateCounter<long>(
        "llmcost.ingest.storage.entities", "{entity}", "Entities written or deleted by ingest, by stage (log, user_day, scopes, indexes, cleanup).");

    public static readonly Counter<long> StorageTransactions = LlmCostTelemetry.Meter.CreateCounter<long>(
        "llmcost.ingest.storage.transactions", "{request}", "Storage requests made by ingest, by stage and result (ok, 409, 412, 404, error).");

    public static readonly Counter<long> Retries = LlmCostTelemetry.Meter.CreateCounter<long>(
        "llmcost.ingest.retries", "{retry}", "Ingest writes retried, by stage and reason (409, 412, 404, error).");

    public static readonly Counter<long> Projected = LlmCostTelemetry.Meter.CreateCounter<long>(
        "llmcost.ingest.projection.events", "{event}", "Pending events the projector finished, by source (local, sweep) and whether the user-day row was new.");

    public static readonly Histogram<double> ProjectionDuration = LlmCostTelemetry.Meter.CreateHistogram<double>(
        "llmcost.ingest.projection.duration", "ms", "Duration of one projection cycle.");

    public static readonly Counter<long> ProjectionFailures = LlmCostTelemetry.Meter.CreateCounter<long>(
        "llmcost.ingest.projection.failures", "{cycle}", "Projection cycles that failed (their events stay pending and are retried).");

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<UsageProjectionTracker, byte> Trackers = new();

    internal static readonly ObservableGauge<double> Lag = LlmCostTelemetry.Meter.CreateObservableGauge(
        "llmcost.ingest.projection.lag", () => Trackers.Keys.Select(t => t.Lag().OldestAge.TotalSeconds).DefaultIfEmpty(0).Max(),
        "s", "Age of the oldest acknowledged event not yet applied (this instance's, or found by its sweep).");

    internal static readonly ObservableGauge<long> Pending = LlmCostTelemetry.Meter.CreateObservableGauge(
        "llmcost.ingest.projection.pending", () => Trackers.Keys.Sum(t => { ProjectionLag l = t.Lag(); return l.LocalPending + l.SweptPending; }),
        "{event}", "Acknowledged events not yet applied: this instance's, plus older ones its last sweep found in storage.");

    public static void Track(UsageProjectionTracker tracker) => Trackers[tracker] = 0;

    public static void Untrack(UsageProjectionTracker tracker) => Trackers.TryRemove(tracker, out _);

    public static void Transaction(string stage, string result, int entities = 0)
    {
        StorageTransactions.Add(1, new KeyValuePair<string, object?>("stage", stage), new KeyValuePair<string, object?>("result", result));
        if (entities > 0 && result == "ok")
        {
            StorageEntities.Add(entities, new KeyValuePair<string, object?>("stage", stage));
        }
    }

    public static void Retry(string stage, string reason) =>
        Retries.Add(1, new KeyValuePair<string, object?>("stage", stage), new KeyValuePair<string, object?>("reason", reason));
}
