using Azure;
using Azure.Data.Tables;
using LlmCost.Core.Recording;

namespace LlmCost.Storage.Recording;

/// <summary>
/// Applies events to their user-day partitions (tenant|user|day) exactly once, with GROUP COMMIT: events are
/// queued per partition and one drainer per partition turns whatever has queued up (from any number of
/// concurrent projection cycles) into one entity-group transaction: the new event rows (Add, so an id already
/// there fails with 409 = applied before), the day summary and the touched hour buckets (conditional on the
/// ETags this writer holds). The summary state is cached per partition, so the steady state costs one
/// transaction per batch and no reads; a 412 (another instance wrote) reloads it.
/// </summary>
/// <remarks>
/// Every event comes back with the absolute totals of its hour bucket as of (at least) its own commit, so the
/// caller can write the team/tenant copies; for an event that was already applied the partition is re-read once
/// (a crash may have lost the copies the first time).
/// </remarks>
internal sealed class UserDayWriter
{
    /// <summary>Actions per entity-group transaction (Table Storage's limit).</summary>
    public const int MaxActions = 100;

    private readonly LlmCostStorage _storage;
    private readonly SemaphoreSlim _lanes;
    private readonly GroupCommit<string, PartitionState, UsageEvent, UserDayResult> _commits;

    /// <param name="lanes">Bounds the storage requests in flight: projection must leave room for the hot path.</param>
    public UserDayWriter(LlmCostStorage storage, SemaphoreSlim lanes)
    {
        _storage = storage;
        _lanes = lanes;
        _commits = new GroupCommit<string, PartitionState, UsageEvent, UserDayResult>(
            static partitionKey => new PartitionState(partitionKey),
            CommitAsync,
            new GroupCommitOptions<UsageEvent, UserDayResult>
            {
                // One commit per partition at a time: it holds the summary rows' ETags.
                MaxCommitsPerKey = 1,
                NewLimit = static () => new TransactionLimit(),
                // The same id twice (two projection cycles racing on one instance): the first leads, the other follows.
                Identity = static e => e.EventId,
                Follow = static (_, _, leader) => leader with { Added = false },
            },
            StringComparer.Ordinal);
    }

    private TableClient Events => _storage.Table(UsageTables.Events);

    /// <summary>Applies events (any partitions); the results are in the same order.</summary>
    public Task<UserDayResult[]> ApplyAsync(IReadOnlyList<UsageEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var tasks = new Task<UserDayResult>[events.Count];
        for (int i = 0; i < events.Count; i++)
        {
            UsageEvent e = events[i];
            tasks[i] = _commits.Enqueue(StorageKeys.UserDayPartition(e.TenantId, e.UserId, e.UtcDay), e);
        }

        return Task.WhenAll(tasks);
    }

    private async Task<IReadOnlyList<UserDayResult>> CommitAsync(string partitionKey, PartitionState state, IReadOnlyList<UsageEvent> leaders)
    {
        await _lanes.WaitAsync().ConfigureAwait(false);
        try
        {
            return await CommitCoreAsync(state, leaders).ConfigureAwait(false);
        }
        catch
        {
            state.Loaded = false; // whatever we cached may be stale now
            throw;
        }
        finally
        {
            _lanes.Release();
        }
    }

    private async Task<IReadOnlyList<UserDayResult>> CommitCoreAsync(PartitionState state, IReadOnlyList<UsageEvent> leaders)
    {
        UsageEvent first = leaders[0];
        var present = new HashSet<string>(StringComparer.Ordinal);
        List<UsageEvent> remaining = [.. leaders];
        bool committed = false;

        await OptimisticConcurrency.RetryAsync(async (_, ct) =>
        {
            while (remaining.Count > 0)
            {
                if (!state.Loaded)
                {
                    await LoadAsync(state, ct).ConfigureAwait(false);
                }

                Plan plan = PlanCommit(state, first, remaining);
                try
                {
                    Response<IReadOnlyList<Response>> response =
                        await Events.SubmitTransactionAsync(plan.Actions, ct).ConfigureAwait(false);
                    IngestMetrics.Transaction("user_day", "ok", plan.Actions.Count);
                    Apply(state, plan, response.Value);
                    committed = true;
                    return (true, 0);
                }
                catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412 or 404)
                {
                    IngestMetrics.Transaction("user_day", ex.Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    IngestMetrics.Retry("user_day", ex.Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    int? index = ex.FailedTransactionActionIndex;
                    if (ex.Status == 409 && index is { } i && i < remaining.Count)
                    {
                        // The event row exists: this event was applied before. Drop it and retry the rest.
                        present.Add(remaining[i].EventId);
                        remaining.RemoveAt(i);
                        continue;
                    }

                    if (index is null)
                    {
                        // No index reported: find the already-applied events by reading them.
                        List<UsageEvent> existing = await ExistingAsync(state.PartitionKey, remaining, ct).ConfigureAwait(false);
                        if (existing.Count > 0)
                        {
                            present.UnionWith(existing.Select(e => e.EventId));
                            remaining = remaining.Except(existing).ToList();
                            continue;
                        }
                    }

                    // A summary row changed under us (another instance): reload, back off, retry.
                    state.Loaded = false;
                    return (false, 0);
                }
            }

            return (true, 0);
        }, maxAttempts: 30).ConfigureAwait(false);

        if (!committed)
        {
            // Only events applied before (a re-run after a crash): their bucket copies may never have been
            // written, so answer with the partition's current state, not a cached one.
            await LoadAsync(state, CancellationToken.None).ConfigureAwait(false);
        }

        return leaders.Select(e => new UserDayResult(!present.Contains(e.EventId), Snapshot(state, e))).ToList();
    }

    private static BucketSnapshot Snapshot(PartitionState state, UsageEvent e)
    {
        BucketKey key = BucketKey.Of(e);
        return state.Buckets.TryGetValue(key, out SummaryRow? row)
            ? new BucketSnapshot(key, row.Totals, row.Seq)
            : new BucketSnapshot(key, UsageTotals.Zero, 0); // not reachable after a commit or a load that saw the event
    }

    private static Plan PlanCommit(PartitionState state, UsageEvent first, List<UsageEvent> events)
    {
        string pk = state.PartitionKey;
        var actions = new List<TableTransactionAction>(events.Count + 8);
        UsageTotals dayTotals = state.Day?.Totals ?? UsageTotals.Zero;
        long seq = (state.Day?.Seq ?? 0) + 1;
        var bucketTotals = new Dictionary<BucketKey, UsageTotals>();
        foreach (UsageEvent e in events)
        {
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, UsageRows.EventEntity(pk, e)));
            var t = UsageTotals.Of(e);
            dayTotals += t;
            BucketKey key = BucketKey.Of(e);
            bucketTotals[key] = bucketTotals.TryGetValue(key, out UsageTotals? sum) ? sum + t : t;
        }

        var dayEntity = UsageRows.WithTotals(new TableEntity(pk, UsageTables.DayRowKey)
        {
            ["Kind"] = UsageTables.KindDay,
            ["TenantId"] = first.TenantId,
            ["UserId"] = first.UserId,
        }, dayTotals, seq);
        actions.Add(Conditional(dayEntity, state.Day?.ETag));

        var buckets = new List<BucketSnapshot>(bucketTotals.Count);
        foreach ((BucketKey key, UsageTotals added) in bucketTotals)
        {
            state.Buckets.TryGetValue(key, out SummaryRow? current);
            UsageTotals total = (current?.Totals ?? UsageTotals.Zero) + added;
            actions.Add(Conditional(UsageRows.BucketEntity(pk, key.RowKey, null, key, total, seq), current?.ETag));
            buckets.Add(new BucketSnapshot(key, total, seq));
        }

        OptimisticConcurrency.EnsureValidTransaction(actions);
        return new Plan(actions, events.Count, dayTotals, seq, buckets);
    }

    private static void Apply(PartitionState state, Plan plan, IReadOnlyList<Response> responses)
    {
        int dayIndex = plan.DayIndex;
        ETag? dayETag = ETagOf(responses, dayIndex);
        if (dayETag is null)
        {
            state.Loaded = false;
        }
        else
        {
            state.Day = new SummaryRow(plan.DayTotals, plan.Seq, dayETag.Value);
        }

        // The totals are known whatever the response says; only the ETags may be missing (then reload next time).
        for (int i = 0; i < plan.Buckets.Count; i++)
        {
            BucketSnapshot b = plan.Buckets[i];
            ETag? etag = ETagOf(responses, dayIndex + 1 + i);
            if (etag is null)
            {
                state.Loaded = false;
            }

            state.Buckets[b.Key] = new SummaryRow(b.Totals, b.Seq, etag ?? default);
        }
    }

    private static ETag? ETagOf(IReadOnlyList<Response> responses, int index) =>
        index < responses.Count && responses[index]?.Headers.ETag is { } etag ? etag : null;

    private static TableTransactionAction Conditional(TableEntity entity, ETag? etag) =>
        etag is { } known
            ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, known)
            : new TableTransactionAction(TableTransactionActionType.Add, entity);

    /// <summary>Reads the day summary and every bucket of the partition with their ETags.</summary>
    private async Task LoadAsync(PartitionState state, CancellationToken cancellationToken)
    {
        state.Day = null;
        state.Buckets.Clear();
        string filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {state.PartitionKey} and RowKey ge {UsageTables.BucketPrefix} and RowKey le {UsageTables.DayRowKey}");
        await foreach (TableEntity row in Events.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var summary = new SummaryRow(UsageRows.Totals(row), UsageRows.Seq(row), row.ETag);
            if (row.RowKey == UsageTables.DayRowKey)
            {
                state.Day = summary;
            }
            else if (row.RowKey.StartsWith(UsageTables.BucketPrefix, StringComparison.Ordinal))
            {
                state.Buckets[UsageRows.BucketKeyOf(row)] = summary;
            }
        }

        IngestMetrics.Transaction("user_day_load", "ok");
        state.Loaded = true;
    }

    private async Task<List<UsageEvent>> ExistingAsync(string partitionKey, List<UsageEvent> events, CancellationToken cancellationToken)
    {
        bool[] exists = await Task.WhenAll(events.Select(async e =>
            (await Events.GetEntityIfExistsAsync<TableEntity>(partitionKey, e.EventId, ["Kind"], cancellationToken).ConfigureAwait(false)).HasValue))
            .ConfigureAwait(false);
        return events.Where((_, i) => exists[i]).ToList();
    }

    /// <summary>Events fit one transaction with the day row and the buckets they touch.</summary>
    private sealed class TransactionLimit : IBatchLimit<UsageEvent>
    {
        private readonly HashSet<BucketKey> _buckets = [];
        private int _events;

        public bool TryAdd(UsageEvent item)
        {
            BucketKey key = BucketKey.Of(item);
            int extra = 1 + (_buckets.Contains(key) ? 0 : 1);
            if (_events + _buckets.Count + 1 + extra > MaxActions)
            {
                return false;
            }

            _events++;
            _buckets.Add(key);
            return true;
        }
    }

    /// <param name="DayIndex">Actions are: events, the day row (at this index), buckets.</param>
    private sealed record Plan(List<TableTransactionAction> Actions, int DayIndex, UsageTotals DayTotals, long Seq, List<BucketSnapshot> Buckets);

    /// <summary>One partition's cached summary state (touched only by its single committer).</summary>
    private sealed class PartitionState(string partitionKey)
    {
        public string PartitionKey { get; } = partitionKey;
        public bool Loaded { get; set; }
        public SummaryRow? Day { get; set; }
        public Dictionary<BucketKey, SummaryRow> Buckets { get; } = [];
    }
}

/// <param name="Added">False when the event row was already there (applied before).</param>
/// <param name="Bucket">The event's hour bucket, absolute totals as of at least its own commit.</param>
internal sealed record UserDayResult(bool Added, BucketSnapshot Bucket);

/// <summary>A bucket's absolute totals as of transaction <paramref name="Seq"/>.</summary>
internal sealed record BucketSnapshot(BucketKey Key, UsageTotals Totals, long Seq);
