namespace LlmCost.Storage.Tests;

/// <summary>The group-commit primitive on its own (no storage): coalescing, limits, leaders and followers, failures.</summary>
public sealed class GroupCommitTests
{
    private sealed record Item(string Id, int Size = 1);

    private sealed class SizeLimit(int max) : IBatchLimit<Item>
    {
        private int _used;

        public bool TryAdd(Item item)
        {
            if (_used + item.Size > max)
            {
                return false;
            }

            _used += item.Size;
            return true;
        }
    }

    /// <summary>Records every commit; the first commit of each key waits for <see cref="Release"/> so a queue can build up.</summary>
    private sealed class Recorder
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _inFlight;

        public List<(string Key, List<string> Ids)> Commits { get; } = [];
        public int MaxInFlight { get; private set; }
        public TaskCompletionSource FirstStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Func<IReadOnlyList<Item>, Exception?> Fail { get; set; } = _ => null;

        public void Release() => _release.TrySetResult();

        public async Task<IReadOnlyList<string>> CommitAsync(string key, List<string> state, IReadOnlyList<Item> items)
        {
            lock (Commits)
            {
                Commits.Add((key, items.Select(i => i.Id).ToList()));
                MaxInFlight = Math.Max(MaxInFlight, ++_inFlight);
            }

            FirstStarted.TrySetResult();
            try
            {
                await _release.Task;
                if (Fail(items) is { } ex)
                {
                    throw ex;
                }

                state.AddRange(items.Select(i => i.Id));
                return items.Select(i => $"{key}:{i.Id}:#{state.Count}").ToList();
            }
            finally
            {
                lock (Commits)
                {
                    _inFlight--;
                }
            }
        }
    }

    private static GroupCommit<string, List<string>, Item, string> Create(Recorder recorder, int maxCommitsPerKey = 1, int limit = 10, int maxKeys = 50_000) => new(
        _ => [],
        recorder.CommitAsync,
        new GroupCommitOptions<Item, string>
        {
            MaxCommitsPerKey = maxCommitsPerKey,
            NewLimit = () => new SizeLimit(limit),
            Identity = item => item.Id,
            Follow = (_, _, result) => $"follows {result}",
            MaxKeysCached = maxKeys,
        },
        StringComparer.Ordinal);

    [Fact]
    public async Task ItemsQueuedDuringACommitAreCoalescedIntoBatchesWithinTheLimit()
    {
        var recorder = new Recorder();
        var commits = Create(recorder, limit: 10);
        Task<string> first = commits.Enqueue("p", new Item("a0"));
        await recorder.FirstStarted.Task;
        List<Task<string>> queued = Enumerable.Range(1, 25).Select(i => commits.Enqueue("p", new Item($"a{i}"))).ToList();
        recorder.Release();
        string[] results = await Task.WhenAll(queued.Prepend(first));

        // One commit for the first item, then the 25 queued behind it in batches of at most 10, in queue order.
        Assert.Equal([1, 10, 10, 5], recorder.Commits.Select(c => c.Ids.Count));
        Assert.Equal(Enumerable.Range(0, 26).Select(i => $"a{i}"), recorder.Commits.SelectMany(c => c.Ids));
        Assert.Equal("p:a0:#1", results[0]);
        Assert.Equal("p:a25:#26", results[25]);
        Assert.Equal(1, recorder.MaxInFlight);
    }

    [Fact]
    public async Task ARepeatedIdentityIsCommittedOnceAndItsFollowerSharesTheLeadersResult()
    {
        var recorder = new Recorder();
        var commits = Create(recorder);
        Task<string> first = commits.Enqueue("p", new Item("x"));
        await recorder.FirstStarted.Task;
        Task<string> leader = commits.Enqueue("p", new Item("y"));
        Task<string> follower = commits.Enqueue("p", new Item("y"));
        Task<string> other = commits.Enqueue("p", new Item("z"));
        recorder.Release();
        await Task.WhenAll(first, leader, follower, other);

        Assert.Equal(["y", "z"], recorder.Commits[1].Ids);
        Assert.Equal("p:y:#3", await leader);
        Assert.Equal("follows p:y:#3", await follower);
    }

    [Fact]
    public async Task AFollowerDoesNotCountAgainstTheLimit()
    {
        var recorder = new Recorder();
        var commits = Create(recorder, limit: 2);
        Task<string> first = commits.Enqueue("p", new Item("x"));
        await recorder.FirstStarted.Task;
        List<Task<string>> queued = [commits.Enqueue("p", new Item("a")), commits.Enqueue("p", new Item("a")), commits.Enqueue("p", new Item("b")), commits.Enqueue("p", new Item("c"))];
        recorder.Release();
        await Task.WhenAll(queued.Append(first));

        Assert.Equal(["a", "b"], recorder.Commits[1].Ids);
        Assert.Equal(["c"], recorder.Commits[2].Ids);
    }

    [Fact]
    public async Task AFailedCommitFailsItsOwnItemsAndFollowersOnlyAndTheQueueMovesOn()
    {
        var recorder = new Recorder { Fail = items => items.Any(i => i.Id == "bad") ? new InvalidOperationException("storage said no") : null };
        var commits = Create(recorder, limit: 2);
        Task<string> first = commits.Enqueue("p", new Item("x"));
        await recorder.FirstStarted.Task;
        Task<string> bad = commits.Enqueue("p", new Item("bad"));
        Task<string> badAgain = commits.Enqueue("p", new Item("bad"));
        Task<string> sameBatch = commits.Enqueue("p", new Item("b"));
        Task<string> nextBatch = commits.Enqueue("p", new Item("c"));
        recorder.Release();

        Assert.Equal("p:x:#1", await first);
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad);
        await Assert.ThrowsAsync<InvalidOperationException>(() => badAgain);
        await Assert.ThrowsAsync<InvalidOperationException>(() => sameBatch);
        Assert.Equal("p:c:#2", await nextBatch); // the failed batch changed no state
    }

    [Fact]
    public async Task KeysCommitIndependentlyAndAKeyNeverExceedsItsCommitsInFlight()
    {
        var recorder = new Recorder();
        var commits = Create(recorder, maxCommitsPerKey: 2, limit: 1);
        List<Task<string>> tasks = Enumerable.Range(0, 12).Select(i => commits.Enqueue("p", new Item($"i{i}"))).ToList();
        Task<string> otherKey = commits.Enqueue("q", new Item("j"));
        await recorder.FirstStarted.Task;
        await Task.Delay(50); // let every drainer that may start, start
        Assert.True(recorder.MaxInFlight <= 3, $"at most 2 commits for p plus 1 for q, saw {recorder.MaxInFlight}");
        recorder.Release();
        await Task.WhenAll(tasks.Append(otherKey));

        Assert.Equal(13, recorder.Commits.Count);
        Assert.True(recorder.MaxInFlight <= 3);
        Assert.Equal("q:j:#1", await otherKey);
    }

    [Fact]
    public async Task IdleKeysAreDroppedWhenTheCacheIsFullAndStartAfresh()
    {
        var recorder = new Recorder();
        recorder.Release();
        var commits = Create(recorder, maxKeys: 3);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal($"k{i}:a:#1", await commits.Enqueue($"k{i}", new Item("a")));
        }

        // Trimming happens when a drainer finishes and finds more keys than allowed; a key whose drainer had not
        // finished yet (a busy machine) is dropped by a later one, so keep committing new keys until that happened.
        for (int i = 0; i < 500 && commits.IsCached("k0"); i++)
        {
            await commits.Enqueue($"z{i}", new Item("a"));
            await Task.Delay(10);
        }

        Assert.False(commits.IsCached("k0"), "an idle key is dropped once more keys than allowed are cached");
        Assert.True(commits.CachedKeys <= 4, $"cached {commits.CachedKeys} keys");
        Assert.Equal("k0:b:#1", await commits.Enqueue("k0", new Item("b"))); // dropped: its state starts again
    }
}
