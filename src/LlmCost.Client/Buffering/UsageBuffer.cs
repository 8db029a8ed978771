// Long on purpose: the bounded buffer's enqueue, batching loop, flush and shutdown share one lock and one set of counters.
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace LlmCost.Client.Buffering;

/// <summary>
/// The bounded in-memory buffer behind <see cref="LlmCostClient.Enqueue"/>: one background loop sends batches of up
/// to <see cref="LlmCostClientOptions.MaxBatchSize"/> events, when a batch is full or
/// <see cref="LlmCostClientOptions.FlushInterval"/> after its first event, and on <see cref="FlushAsync"/>.
/// </summary>
/// <remarks>
/// Memory is bounded: at most <see cref="LlmCostClientOptions.MaxBufferedEvents"/> events wait, plus the one batch
/// in flight; an event that does not fit is dropped at once (counted, reported), so an app never blocks or grows
/// because the service is down. A batch that fails for an outage is kept and sent again with the same event ids
/// (so a batch that was committed but whose answer was lost is answered "duplicate", never counted twice), after a
/// pause that doubles up to <see cref="LlmCostClientOptions.MaxOutageBackoff"/>. Events the service refuses cannot
/// succeed later and are reported instead of retried.
/// </remarks>
internal sealed partial class UsageBuffer : IAsyncDisposable
{
    private static readonly Meter Meter = new("LlmCost.Client");
    private static readonly Counter<long> EventsCounter = Meter.CreateCounter<long>(
        "llmcost.client.events", "{event}", "Usage events handled by the client buffer, by outcome.");
    private static readonly UpDownCounter<long> BufferedCounter = Meter.CreateUpDownCounter<long>(
        "llmcost.client.buffer.events", "{event}", "Events waiting in client buffers.");
    private static readonly Counter<long> FailedSendsCounter = Meter.CreateCounter<long>(
        "llmcost.client.batch.failures", "{batch}", "Batch sends that failed for an outage and were kept for another attempt.");

    private readonly LlmCostClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<IReadOnlyList<UsageEvent>, CancellationToken, Task<RecordBatchResult>> _send;
    private readonly Channel<Pending> _channel;
    private readonly CancellationTokenSource _abort = new();
    private readonly object _gate = new();
    private readonly List<(long Target, TaskCompletionSource Done)> _flushWaiters = [];
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private bool _disposed;
    private long _enqueued;
    private long _settled;
    private long _recorded;
    private long _duplicates;
    private long _droppedFull;
    private long _droppedRejected;
    private long _droppedShutdown;
    private long _failedSends;
    private string? _lastFailure;

    public UsageBuffer(
        LlmCostClientOptions options,
        TimeProvider time,
        ILogger logger,
        Func<IReadOnlyList<UsageEvent>, CancellationToken, Task<RecordBatchResult>> send)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _send = send;
        _channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(options.MaxBufferedEvents)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite answers false when full: the caller never waits
        });
    }

    public LlmCostClientStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                return new LlmCostClientStatistics
                {
                    Enqueued = _enqueued,
                    Buffered = _enqueued - _settled - _droppedFull,
                    Recorded = _recorded,
                    Duplicates = _duplicates,
                    DroppedBufferFull = _droppedFull,
                    DroppedRejected = _droppedRejected,
                    DroppedShutdown = _droppedShutdown,
                    FailedSends = _failedSends,
                    LastFailure = _lastFailure,
                };
            }
        }
    }

    public bool Enqueue(UsageEvent usageEvent, UsageEvent? fallback)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _loop ??= Task.Run(RunAsync);
            _enqueued++;
            if (_channel.Writer.TryWrite(new Pending(usageEvent, fallback)))
            {
                BufferedCounter.Add(1);
                return true;
            }

            _droppedFull++;
        }

        EventsCounter.Add(1, new KeyValuePair<string, object?>("outcome", "dropped_buffer_full"));
        LogDropped(_logger, 1, DropReason.BufferFull);
        Report(new DroppedEvents(DropReason.BufferFull, [usageEvent], $"the buffer holds {_options.MaxBufferedEvents} events already"));
        return false;
    }

    public Task FlushAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            long target = _enqueued - _droppedFull;
            if (_settled >= target)
            {
                return Task.CompletedTask;
            }

            _flushWaiters.Add((target, done));
        }

        Wake();
        return done.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _channel.Writer.TryComplete();
            loop = _loop;
        }

        Wake();
        if (loop is not null)
        {
            _abort.CancelAfter(_options.ShutdownFlushTimeout);
            await loop.ConfigureAwait(false);
        }

        _abort.Dispose();
    }

    private async Task RunAsync()
    {
        ChannelReader<Pending> reader = _channel.Reader;
        var batch = new List<Pending>(_options.MaxBatchSize);
        TimeSpan backoff = _options.RetryBaseDelay > TimeSpan.Zero ? _options.RetryBaseDelay : TimeSpan.FromMilliseconds(100);
        try
        {
            while (!_abort.IsCancellationRequested)
            {
                if (batch.Count == 0)
                {
                    if (!await reader.WaitToReadAsync(_abort.Token).ConfigureAwait(false))
                    {
                        break; // completed and drained
                    }

                    await FillAsync(reader, batch).ConfigureAwait(false);
                }

                List<Pending>? retry = await SendAsync(batch).ConfigureAwait(false);
                if (retry is null)
                {
                    // Outage: keep the batch, pause, try again (same event ids).
                    await Task.Delay(backoff, _time, _abort.Token).ConfigureAwait(false);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxOutageBackoff.Ticks));
                    continue;
                }

                backoff = _options.RetryBaseDelay > TimeSpan.Zero ? _options.RetryBaseDelay : TimeSpan.FromMilliseconds(100);
                batch.Clear();
                batch.AddRange(retry);
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Never lose the app's process to the buffer; what is left is reported below.
            LogLoopFailed(_logger, ex);
        }

        // Shutdown: whatever could not be sent in time is given up, counted and reported.
        while (reader.TryRead(out Pending? left))
        {
            batch.Add(left);
        }

        if (batch.Count > 0)
        {
            Drop(batch, DropReason.Shutdown, "unsent when the client was disposed");
        }

        lock (_gate)
        {
            foreach ((_, TaskCompletionSource done) in _flushWaiters)
            {
                done.TrySetResult();
            }

            _flushWaiters.Clear();
        }
    }

    /// <summary>Takes events until the batch is full, the flush interval after the first one passed, or a flush or
    /// shutdown asks for what there is.</summary>
    private async Task FillAsync(ChannelReader<Pending> reader, List<Pending> batch)
    {
        long deadline = _time.GetTimestamp() + (long)(_options.FlushInterval.TotalSeconds * _time.TimestampFrequency);
        while (true)
        {
            while (batch.Count < _options.MaxBatchSize && reader.TryRead(out Pending? item))
            {
                batch.Add(item);
            }

            TimeSpan left = TimeSpan.FromSeconds((deadline - _time.GetTimestamp()) / (double)_time.TimestampFrequency);
            if (batch.Count >= _options.MaxBatchSize || left <= TimeSpan.Zero || FlushWanted() || reader.Completion.IsCompleted)
            {
                return;
            }

            Task wake;
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                wake = _wake.Task;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
            Task more = reader.WaitToReadAsync(timeout.Token).AsTask();
            Task delay = Task.Delay(left, _time, timeout.Token);
            await Task.WhenAny(more, delay, wake).ConfigureAwait(false);
            await timeout.CancelAsync().ConfigureAwait(false);
            _abort.Token.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Sends one batch. Null = outage (keep it); otherwise the events to send again in their fallback form.</summary>
    private async Task<List<Pending>?> SendAsync(List<Pending> batch)
    {
        RecordBatchResult result;
        try
        {
            result = await _send(batch.Select(p => p.Event).ToList(), _abort.Token).ConfigureAwait(false);
        }
        catch (LlmCostApiException ex)
        {
            // 401/403/404/...: the key or deployment refuses these events; sending them again cannot succeed.
            Drop(batch, DropReason.Rejected, ex.Message);
            return [];
        }
        catch (Exception ex) when (ex is LlmCostUnavailableException || (ex is OperationCanceledException && !_abort.IsCancellationRequested))
        {
            lock (_gate)
            {
                _failedSends++;
                _lastFailure = ex.Message;
            }

            FailedSendsCounter.Add(1);
            return null;
        }

        var retry = new List<Pending>();
        var rejected = new List<(Pending Item, IReadOnlyList<string> Errors)>();
        long recorded = 0, duplicates = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            EventOutcome outcome = result.Events[i];
            switch (outcome.Status)
            {
                case EventStatus.Recorded:
                    recorded++;
                    break;
                case EventStatus.Duplicate:
                    duplicates++;
                    break;
                default:
                    if (batch[i].Fallback is { } fallback)
                    {
                        retry.Add(new Pending(fallback, null));
                    }
                    else
                    {
                        rejected.Add((batch[i], outcome.Errors));
                    }

                    break;
            }
        }

        lock (_gate)
        {
            _recorded += recorded;
            _duplicates += duplicates;
        }

        EventsCounter.Add(recorded, new KeyValuePair<string, object?>("outcome", "recorded"));
        EventsCounter.Add(duplicates, new KeyValuePair<string, object?>("outcome", "duplicate"));
        BufferedCounter.Add(-(recorded + duplicates));
        Settle(recorded + duplicates);
        if (rejected.Count > 0)
        {
            Drop(rejected.Select(r => r.Item).ToList(), DropReason.Rejected,
                string.Join("; ", rejected.SelectMany(r => r.Errors).Distinct().Take(10)));
        }

        return retry;
    }

    private void Drop(List<Pending> items, DropReason reason, string detail)
    {
        lock (_gate)
        {
            if (reason == DropReason.Rejected)
            {
                _droppedRejected += items.Count;
            }
            else
            {
                _droppedShutdown += items.Count;
            }

            _lastFailure = detail;
        }

        EventsCounter.Add(items.Count, new KeyValuePair<string, object?>("outcome", reason == DropReason.Rejected ? "dropped_rejected" : "dropped_shutdown"));
        BufferedCounter.Add(-items.Count);
        LogDropped(_logger, items.Count, reason);
        Settle(items.Count);
        Report(new DroppedEvents(reason, items.Select(p => p.Event).ToList(), detail));
    }

    private void Settle(long count)
    {
        List<TaskCompletionSource> done = [];
        lock (_gate)
        {
            _settled += count;
            _flushWaiters.RemoveAll(w =>
            {
                if (w.Target <= _settled)
                {
                    done.Add(w.Done);
                    return true;
                }

                return false;
            });
        }

        foreach (TaskCompletionSource d in done)
        {
            d.TrySetResult();
        }
    }

    private bool FlushWanted()
    {
        lock (_gate)
        {
            return _flushWaiters.Count > 0 || _disposed;
        }
    }

    private void Wake()
    {
        TaskCompletionSource wake;
        lock (_gate)
        {
            wake = _wake;
            _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        wake.TrySetResult();
    }

    private void Report(DroppedEvents dropped)
    {
        try
        {
            _options.OnEventsDropped?.Invoke(dropped);
        }
        catch (Exception ex)
        {
            LogCallbackFailed(_logger, ex);
        }
    }

    private sealed record Pending(UsageEvent Event, UsageEvent? Fallback);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "LlmCost client gave up {Count} usage events: {Reason}")]
    private static partial void LogDropped(ILogger logger, int count, DropReason reason);

    [LoggerMessage(EventId = 11, Level = LogLevel.Error, Message = "The LlmCost usage buffer loop failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "The OnEventsDropped callback threw")]
    private static partial void LogCallbackFailed(ILogger logger, Exception exception);
}
