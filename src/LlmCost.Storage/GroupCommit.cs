using System.Collections.Concurrent;

namespace LlmCost.Storage;

/// <summary>
/// How much one commit may carry: a fresh instance per batch is offered the queued items in order and says which
/// still fit (e.g. "at most 99 events and 960 KiB", or "events plus the summary rows they touch within 100 actions").
/// </summary>
public interface IBatchLimit<in TItem>
{
    /// <summary>Counts <paramref name="item"/> into the batch and returns true, or returns false (counting nothing) when it does not fit.</summary>
    bool TryAdd(TItem item);
}

/// <summary>Tuning and item semantics of a <see cref="GroupCommit{TKey,TState,TItem,TResult}"/>.</summary>
public sealed class GroupCommitOptions<TItem, TResult>
{
    /// <summary>Commits in flight per key. 1 when the commit keeps per-key state that must not race (ETags held).</summary>
    public int MaxCommitsPerKey { get; init; } = 1;

    /// <summary>A new limit per batch; null = everything queued goes into one commit.</summary>
    public Func<IBatchLimit<TItem>>? NewLimit { get; init; }

    /// <summary>
    /// The identity of an item (an event id). When two queued items of one batch share it, only the first (the
    /// leader) is committed; later ones (followers) get <see cref="Follow"/> of the leader's result. Null = every
    /// item is committed.
    /// </summary>
    public Func<TItem, string>? Identity { get; init; }

    /// <summary>A follower's result from (follower, leader, leader's result). Required with <see cref="Identity"/>.</summary>
    public Func<TItem, TItem, TResult, TResult>? Follow { get; init; }

    /// <summary>Idle keys (and their state) are dropped when more than this many are cached.</summary>
    public int MaxKeysCached { get; init; } = 50_000;
}

/// <summary>
/// GROUP COMMIT: items are queued per key (a partition); one drainer per key (or a few, see
/// <see cref="GroupCommitOptions{TItem,TResult}.MaxCommitsPerKey"/>) turns whatever has queued up meanwhile, from
/// any number of concurrent callers, into one commit of up to the batch limit. The caller awaits its own item's
/// result. Storage-agnostic: the commit function decides what one commit is (an entity-group transaction, a
/// conditional write of a cached aggregate) and keeps what it caches per key in <typeparamref name="TState"/>,
/// which lives as long as the key is cached and is touched only by the key's drainers.
/// </summary>
/// <remarks>
/// Throughput comes from coalescing: under load the queue of a key grows while its commit is in flight, so the
/// next commit carries more items for the same cost. A failed commit fails every item it carried (and their
/// followers) with the same exception; items queued behind it are committed next, unaffected.
/// </remarks>
public sealed class GroupCommit<TKey, TState, TItem, TResult>
    where TKey : notnull
    where TState : class
{
    private readonly Func<TKey, TState> _createState;
    private readonly Func<TKey, TState, IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> _commit;
    private readonly GroupCommitOptions<TItem, TResult> _options;
    private readonly ConcurrentDictionary<TKey, KeyQueue> _keys;

    /// <param name="createState">The per-key state, created when a key is first seen (or again after it was dropped).</param>
    /// <param name="commit">Commits the LEADERS of one batch (distinct identities, queue order) and returns one result per leader, in order.</param>
    public GroupCommit(
        Func<TKey, TState> createState,
        Func<TKey, TState, IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> commit,
        GroupCommitOptions<TItem, TResult> options,
        IEqualityComparer<TKey>? comparer = null)
    {
        ArgumentNullException.ThrowIfNull(createState);
        ArgumentNullException.ThrowIfNull(commit);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxCommitsPerKey, 1);
        if (options.Identity is not null && options.Follow is null)
        {
            throw new ArgumentException("Identity needs Follow (what a repeated item is answered)", nameof(options));
        }

        _createState = createState;
        _commit = commit;
        _options = options;
        _keys = new ConcurrentDictionary<TKey, KeyQueue>(comparer);
    }

    /// <summary>Keys currently cached (queued, committing, or idle with state).</summary>
    public int CachedKeys => _keys.Count;

    internal bool IsCached(TKey key) => _keys.ContainsKey(key);

    /// <summary>Queues <paramref name="item"/> under <paramref name="key"/>; completes with its result once committed.</summary>
    public Task<TResult> Enqueue(TKey key, TItem item)
    {
        var entry = new Entry(item);
        while (true)
        {
            KeyQueue queue = _keys.GetOrAdd(key, static (k, self) => new KeyQueue(k, self._createState(k)), this);
            bool startDrainer;
            lock (queue.Gate)
            {
                if (queue.Retired)
                {
                    continue; // dropped from the cache between GetOrAdd and the lock: take the fresh one
                }

                queue.Items.Add(entry);
                startDrainer = queue.Drainers < _options.MaxCommitsPerKey;
                if (startDrainer)
                {
                    queue.Drainers++;
                }
            }

            if (startDrainer)
            {
                _ = Task.Run(() => DrainAsync(queue));
            }

            return entry.Completion.Task;
        }
    }

    private async Task DrainAsync(KeyQueue queue)
    {
        while (true)
        {
            List<Entry> batch;
            lock (queue.Gate)
            {
                if (queue.Items.Count == 0)
                {
                    queue.Drainers--;
                    TrimIfLarge();
                    return;
                }

                batch = TakeBatch(queue);
            }

            await CommitAsync(queue, batch).ConfigureAwait(false);
        }
    }

    /// <summary>Takes queued items in order while they fit; a repeated identity rides along for free.</summary>
    private List<Entry> TakeBatch(KeyQueue queue)
    {
        IBatchLimit<TItem>? limit = _options.NewLimit?.Invoke();
        HashSet<string>? ids = _options.Identity is null ? null : new HashSet<string>(StringComparer.Ordinal);
        int taken = 0;
        foreach (Entry entry in queue.Items)
        {
            bool repeat = ids is not null && ids.Contains(_options.Identity!(entry.Item));
            if (!repeat)
            {
                // The first item always goes (a limit it exceeds on its own is for the commit to refuse).
                if (limit is not null && !limit.TryAdd(entry.Item) && taken > 0)
                {
                    break;
                }

                ids?.Add(_options.Identity!(entry.Item));
            }

            taken++;
        }

        List<Entry> batch = queue.Items.GetRange(0, taken);
        queue.Items.RemoveRange(0, taken);
        return batch;
    }

    private async Task CommitAsync(KeyQueue queue, List<Entry> batch)
    {
        List<Entry> leaders = batch;
        List<(Entry Follower, int Leader)>? followers = null;
        if (_options.Identity is not null)
        {
            leaders = new List<Entry>(batch.Count);
            var byId = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (Entry entry in batch)
            {
                string id = _options.Identity(entry.Item);
                if (byId.TryGetValue(id, out int leader))
                {
                    (followers ??= []).Add((entry, leader));
                }
                else
                {
                    byId[id] = leaders.Count;
                    leaders.Add(entry);
                }
            }
        }

        IReadOnlyList<TResult> results;
        try
        {
            results = await _commit(queue.Key, queue.State, leaders.Select(e => e.Item).ToList()).ConfigureAwait(false);
            if (results.Count != leaders.Count)
            {
                throw new InvalidOperationException($"a commit returned {results.Count} results for {leaders.Count} items");
            }
        }
        catch (Exception ex)
        {
            foreach (Entry entry in batch)
            {
                entry.Completion.TrySetException(ex);
            }

            return;
        }

        for (int i = 0; i < leaders.Count; i++)
        {
            leaders[i].Completion.TrySetResult(results[i]);
        }

        if (followers is not null)
        {
            foreach ((Entry follower, int leader) in followers)
            {
                try
                {
                    follower.Completion.TrySetResult(_options.Follow!(follower.Item, leaders[leader].Item, results[leader]));
                }
                catch (Exception ex)
                {
                    follower.Completion.TrySetException(ex);
                }
            }
        }
    }

    private void TrimIfLarge()
    {
        if (_keys.Count <= _options.MaxKeysCached)
        {
            return;
        }

        foreach ((TKey key, KeyQueue queue) in _keys)
        {
            if (Monitor.TryEnter(queue.Gate))
            {
                try
                {
                    if (queue.Drainers == 0 && queue.Items.Count == 0)
                    {
                        queue.Retired = true;
                        _keys.TryRemove(new KeyValuePair<TKey, KeyQueue>(key, queue));
                    }
                }
                finally
                {
                    Monitor.Exit(queue.Gate);
                }
            }
        }
    }

    private sealed class Entry(TItem item)
    {
        public TItem Item { get; } = item;
        public TaskCompletionSource<TResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>One key's queue, drainer count and state.</summary>
    private sealed class KeyQueue(TKey key, TState state)
    {
        public TKey Key { get; } = key;
        public TState State { get; } = state;
        public object Gate { get; } = new();
        public List<Entry> Items { get; } = [];
        public int Drainers { get; set; }
        public bool Retired { get; set; }
    }
}
