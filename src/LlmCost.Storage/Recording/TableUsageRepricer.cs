using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;

namespace LlmCost.Storage.Recording;

/// <summary>
/// Rewrites the pricing of a user-day partition's events in place. Each transaction replaces up to
/// <see cref="EventsPerTransaction"/> event rows together with the day summary and the hour buckets they belong to,
/// all recomputed from the partition's events as they stand after that transaction (conditional on every ETag),
/// so the summaries are the sum of the events after every step (DESIGN invariant 2) and a crash between
/// transactions leaves a consistent, partly repriced partition that a rerun finishes. The team/tenant copies are
/// then written with a higher Seq, which the scope projector's rule (a higher Seq replaces) lets through.
/// Each transaction also adds an intent row (RowKey <c>~rp|{id}</c>, Kind "repricing", outside the summary key
/// range <c>~b|</c>..<c>~day</c>) listing the old and new cost of every event it rewrote: the budgets that counted
/// the old costs are corrected from it, and it is deleted only after they were.
/// Checkpoints: table <c>{prefix}repricing</c>, PartitionKey = job id, RowKey = the escaped partition key.
/// </summary>
public sealed class TableUsageRepricer(LlmCostStorage storage, UsageScopeProjector scopes) : IUsageRepricingStore
{
    public const string CheckpointTable = "repricing";

    /// <summary>Events per transaction: with the day row, at most one bucket per event and the intent row, 100 actions.</summary>
    public const int EventsPerTransaction = 49;

    internal const string IntentPrefix = "~rp|";
    internal const string KindIntent = "repricing";

    private TableClient Events => storage.Table(UsageTables.Events);

    private TableClient Checkpoints => storage.Table(CheckpointTable);

    public async Task<PartitionRewrite> RewriteAsync(UserDay partition, Func<UsageEvent, UsageEvent> reprice, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reprice);
        string pk = StorageKeys.UserDayPartition(partition.TenantId, partition.UserId, partition.Day);
        int rewritten = 0;
        for (int attempt = 0; attempt < OptimisticConcurrency.DefaultMaxAttempts; attempt++)
        {
            Loaded state = await LoadAsync(partition, pk, cancellationToken).ConfigureAwait(false);
            if (state.Day is null)
            {
                return new PartitionRewrite(0, state.Events.Count == 0 ? null : "the partition has events but no day summary", state.Intents);
            }

            UsageTotals sum = state.Events.Aggregate(UsageTotals.Zero, (t, e) => t + UsageTotals.Of(e.Event));
            if (sum.Events != state.Day.Totals.Events || sum.CostUsd != state.Day.Totals.CostUsd)
            {
                // Archived or partly deleted raw events: recomputing the summary from what is left would lose usage.
                return new PartitionRewrite(0, $"the day summary ({state.Day.Totals.Events} events) is not the sum of the stored events ({sum.Events})", state.Intents);
            }

            UsageEvent[] current = state.Events.Select(e => e.Event).ToArray();
            var changed = new List<int>();
            for (int i = 0; i < current.Length; i++)
            {
                UsageEvent next = reprice(current[i]);
                if (Differs(current[i], next))
                {
                    changed.Add(i);
                }
            }

            if (changed.Count == 0)
            {
                // Nothing (left) to rewrite; the copies are written anyway, so a crash before them is repaired.
                await ProjectAsync(partition, state, current, cancellationToken).ConfigureAwait(false);
                return new PartitionRewrite(rewritten, Intents: state.Intents);
            }

            bool conflict = false;
            foreach (int[] chunk in changed.Chunk(EventsPerTransaction))
            {
                var actions = new List<TableTransactionAction>(chunk.Length * 2 + 2);
                var touched = new HashSet<BucketKey>();
                var costs = new List<RepricedCost>(chunk.Length);
                foreach (int i in chunk)
                {
                    UsageEvent old = current[i];
                    current[i] = reprice(current[i]);
                    costs.Add(new RepricedCost(old.TeamId, old.KeyId, old.Timestamp, old.CostUsd, current[i].CostUsd, old.Priced, current[i].Priced));
                    actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, UsageRows.EventEntity(pk, current[i]), state.Events[i].ETag));
                    touched.Add(BucketKey.Of(current[i]));
                }

                long seq = state.Day.Seq + 1;
                UsageTotals dayTotals = current.Aggregate(UsageTotals.Zero, (t, e) => t + UsageTotals.Of(e));
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace,
                    UsageRows.WithTotals(new TableEntity(pk, UsageTables.DayRowKey)
                    {
                        ["Kind"] = UsageTables.KindDay,
                        ["TenantId"] = partition.TenantId,
                        ["UserId"] = partition.UserId,
                    }, dayTotals, seq), state.Day.ETag));
                var bucketKeys = touched.ToList();
                foreach (BucketKey key in bucketKeys)
                {
                    UsageTotals total = current.Where(e => BucketKey.Of(e) == key).Aggregate(UsageTotals.Zero, (t, e) => t + UsageTotals.Of(e));
                    ETag etag = state.Buckets.TryGetValue(key, out SummaryRow? row) ? row.ETag : ETag.All;
                    actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, UsageRows.BucketEntity(pk, key.RowKey, null, key, total, seq), etag));
                }

                var intent = new RepricingIntent(Guid.NewGuid().ToString("N"), partition, costs);
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, IntentEntity(pk, intent)));

                try
                {
                    Response<IReadOnlyList<Response>> response = await Events.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
                    rewritten += chunk.Length;
                    state.Intents.Add(intent);
                    for (int n = 0; n < chunk.Length; n++)
                    {
                        state.Events[chunk[n]] = (current[chunk[n]], ETagAt(response.Value, n));
                    }

                    state.Day = new SummaryRow(dayTotals, seq, ETagAt(response.Value, chunk.Length));
                    for (int b = 0; b < bucketKeys.Count; b++)
                    {
                        UsageTotals total = current.Where(e => BucketKey.Of(e) == bucketKeys[b]).Aggregate(UsageTotals.Zero, (t, e) => t + UsageTotals.Of(e));
                        state.Buckets[bucketKeys[b]] = new SummaryRow(total, seq, ETagAt(response.Value, chunk.Length + 1 + b));
                    }
                }
                catch (TableTransactionFailedException ex) when (ex.Status is 404 or 409 or 412)
                {
                    // Ingest wrote the partition meanwhile: read it again and decide again (rewritten events now
                    // compare equal and are left alone).
                    conflict = true;
                    break;
                }
            }

            if (!conflict)
            {
                await ProjectAsync(partition, state, current, cancellationToken).ConfigureAwait(false);
                return new PartitionRewrite(rewritten, Intents: state.Intents);
            }
        }

        throw new StorageContentionException($"partition {pk} kept changing while it was repriced");
    }

    public async Task<bool> IsDoneAsync(string jobId, UserDay partition, CancellationToken cancellationToken = default)
    {
        NullableResponse<TableEntity> row = await Checkpoints.GetEntityIfExistsAsync<TableEntity>(
            jobId, CheckpointKey(partition), ["PartitionKey"], cancellationToken).ConfigureAwait(false);
        return row.HasValue;
    }

    public async Task MarkDoneAsync(string jobId, UserDay partition, IReadOnlyList<RepricingIntent> handedOn, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handedOn);
        string pk = StorageKeys.UserDayPartition(partition.TenantId, partition.UserId, partition.Day);
        // A delete of a row already gone answers 404 without throwing, so a rerun after a crash here is harmless.
        await Task.WhenAll(handedOn.Select(i => Events.DeleteEntityAsync(pk, IntentPrefix + i.IntentId, ETag.All, cancellationToken))).ConfigureAwait(false);
        await Checkpoints.UpsertEntityAsync(new TableEntity(jobId, CheckpointKey(partition)), TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
    }

    private static TableEntity IntentEntity(string pk, RepricingIntent intent) => new(pk, IntentPrefix + intent.IntentId)
    {
        ["Kind"] = KindIntent,
        ["Json"] = JsonSerializer.Serialize(intent.Changes, IntentJson),
    };

    private static readonly JsonSerializerOptions IntentJson = new(JsonSerializerDefaults.Web);

    private static string CheckpointKey(UserDay partition) =>
        StorageKeys.Escape(StorageKeys.UserDayPartition(partition.TenantId, partition.UserId, partition.Day));

    private Task ProjectAsync(UserDay partition, Loaded state, UsageEvent[] current, CancellationToken cancellationToken)
    {
        var snapshots = current.GroupBy(BucketKey.Of)
            .Select(g => new BucketSnapshot(g.Key, g.Aggregate(UsageTotals.Zero, (t, e) => t + UsageTotals.Of(e)),
                state.Buckets.TryGetValue(g.Key, out SummaryRow? row) ? row.Seq : state.Day!.Seq))
            .ToList();
        return scopes.ProjectAsync(partition.TenantId, partition.UserId, partition.Day, snapshots, cancellationToken);
    }

    private static bool Differs(UsageEvent a, UsageEvent b) =>
        a.CostUsd != b.CostUsd || a.Priced != b.Priced || a.ListCostUsd != b.ListCostUsd || a.PolicyVersion != b.PolicyVersion
        || a.CatalogVersion != b.CatalogVersion || a.PriceSource != b.PriceSource || a.UnpricedReason != b.UnpricedReason
        || a.PricedProvider != b.PricedProvider || a.PricedModel != b.PricedModel;

    private static ETag ETagAt(IReadOnlyList<Response> responses, int index) =>
        index < responses.Count && responses[index]?.Headers.ETag is { } etag ? etag : ETag.All;

    private async Task<Loaded> LoadAsync(UserDay partition, string pk, CancellationToken cancellationToken)
    {
        var state = new Loaded();
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {pk}");
        await foreach (TableEntity row in Events.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (row.RowKey == UsageTables.DayRowKey)
            {
                state.Day = new SummaryRow(UsageRows.Totals(row), UsageRows.Seq(row), row.ETag);
            }
            else if (row.RowKey.StartsWith(UsageTables.BucketPrefix, StringComparison.Ordinal))
            {
                state.Buckets[UsageRows.BucketKeyOf(row)] = new SummaryRow(UsageRows.Totals(row), UsageRows.Seq(row), row.ETag);
            }
            else if (row.GetString("Kind") == UsageTables.KindEvent)
            {
                state.Events.Add((UsageRows.ToEvent(row), row.ETag));
            }
            else if (row.RowKey.StartsWith(IntentPrefix, StringComparison.Ordinal))
            {
                state.Intents.Add(new RepricingIntent(row.RowKey[IntentPrefix.Length..], partition,
                    JsonSerializer.Deserialize<List<RepricedCost>>(row.GetString("Json"), IntentJson) ?? []));
            }
        }

        return state;
    }

    private sealed class Loaded
    {
        public SummaryRow? Day { get; set; }

        public Dictionary<BucketKey, SummaryRow> Buckets { get; } = [];

        public List<(UsageEvent Event, ETag ETag)> Events { get; } = [];

        /// <summary>Intents not yet handed on: left by an earlier (crashed) run, then this run's.</summary>
        public List<RepricingIntent> Intents { get; } = [];
    }
}
