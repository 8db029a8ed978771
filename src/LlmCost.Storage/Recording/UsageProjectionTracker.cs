namespace LlmCost.Storage.Recording;

/// <summary>
/// What this instance acknowledged and its projector has not yet applied: the read-your-writes barrier for
/// queries and the projection-lag figures (metric and health). Local bookkeeping only; the durable truth is the
/// pending rows in the ingest log.
/// </summary>
public sealed class UsageProjectionTracker : IDisposable
{
    private readonly TimeProvider _time;

    private readonly object _gate = new();
    private readonly SortedSet<long> _outstanding = [];
    private readonly Dictionary<long, DateTimeOffset> _receivedAt = [];
    private readonly List<(long Target, TaskCompletionSource Done)> _waiters = [];
    private long _acked;
    private int _commitsInFlight;
    private long _lastCommitTicks;
    private DateTimeOffset? _sweepOldest;
    private long _sweepPending;

    public UsageProjectionTracker(TimeProvider time)
    {
        _time = time;
        IngestMetrics.Track(this);
    }

    public void Dispose() => IngestMetrics.Untrack(this);

    /// <summary>The ingest log is committing right now or did within the last 50 ms: clients are waiting on storage.</summary>
    internal bool IngestBusy =>
        Volatile.Read(ref _commitsInFlight) > 0
        || Environment.TickCount64 - Interlocked.Read(ref _lastCommitTicks) < 50;

    internal void CommitStarted() => Interlocked.Increment(ref _commitsInFlight);

    internal void CommitEnded()
    {
        Interlocked.Decrement(ref _commitsInFlight);
        Interlocked.Exchange(ref _lastCommitTicks, Environment.TickCount64);
    }

    /// <summary>Registers acknowledged events; returns their sequence numbers.</summary>
    internal long[] Acknowledge(IReadOnlyList<DateTimeOffset> receivedAt)
    {
        var seqs = new long[receivedAt.Count];
        lock (_gate)
        {
            for (int i = 0; i < seqs.Length; i++)
            {
                long seq = ++_acked;
                seqs[i] = seq;
                _outstanding.Add(seq);
                _receivedAt[seq] = receivedAt[i];
            }
        }

        return seqs;
    }

    internal void Applied(IEnumerable<long> seqs)
    {
        List<TaskCompletionSource>? done = null;
        lock (_gate)
        {
            foreach (long seq in seqs)
            {
                _outstanding.Remove(seq);
                _receivedAt.Remove(seq);
            }

            long watermark = _outstanding.Count == 0 ? long.MaxValue : _outstanding.Min;
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Target < watermark)
                {
                    (done ??= []).Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        done?.ForEach(d => d.TrySetResult());
    }

    /// <summary>What the last sweep saw in storage: pending rows past their writer's own turn, and the oldest one.</summary>
    internal void SweepObserved(long pending, DateTimeOffset? oldest)
    {
        lock (_gate)
        {
            _sweepPending = pending;
            _sweepOldest = oldest;
        }
    }

    /// <summary>
    /// Waits (at most <paramref name="timeout"/>) until every event this instance acknowledged before the call is
    /// applied. Returns false on timeout: the caller then reads what is there (eventually consistent).
    /// </summary>
    public async Task<bool> WaitForAppliedAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        TaskCompletionSource done;
        lock (_gate)
        {
            if (_outstanding.Count == 0)
            {
                return true;
            }

            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((_acked, done));
        }

        try
        {
            // A bound on waiting, not a timestamp: real time, so a fixed test clock can never turn it into a hang.
            await done.Task.WaitAsync(timeout, TimeProvider.System, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Events acknowledged here and not yet applied, plus what the sweep last found in storage.</summary>
    public ProjectionLag Lag()
    {
        DateTimeOffset now = _time.GetUtcNow();
        lock (_gate)
        {
            DateTimeOffset? oldest = _outstanding.Count == 0 ? null : _receivedAt[_outstanding.Min];
            if (_sweepOldest is { } swept && (oldest is null || swept < oldest))
            {
                oldest = swept;
            }

            TimeSpan age = oldest is { } o && now > o ? now - o : TimeSpan.Zero;
            return new ProjectionLag(_outstanding.Count, _sweepPending, age);
        }
    }
}

/// <param name="LocalPending">Acknowledged by this instance, not yet applied.</param>
/// <param name="SweptPending">Older pending rows the last sweep found in storage (any instance's).</param>
/// <param name="OldestAge">Age of the oldest of either.</param>
public sealed record ProjectionLag(long LocalPending, long SweptPending, TimeSpan OldestAge);
