using System.Collections.Concurrent;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using LlmCost.Functions.Hosting;
using LlmCost.Hosting.AzureStorage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Contract;

/// <summary>Standalone mode against real Azurite: timers under a blob lease, queues with retries and a poison queue.</summary>
public class StandaloneRunnerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly string _prefix = TestEnvironment.NewPrefix();

    [Fact]
    public async Task A_timer_occurrence_runs_once_across_two_instances_sharing_the_lease()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 10, 0, 30, TimeSpan.Zero));
        var runs = new ConcurrentQueue<FunctionInvocation>();
        var results = new ConcurrentQueue<TimerOccurrenceResult>();
        var waiting = new ConcurrentQueue<DateTimeOffset>();
        using var stop = new CancellationTokenSource();

        // Two instances: separate lease stores and function objects, one storage account, one (fake) clock.
        var instances = Enumerable.Range(0, 2).Select(_ =>
        {
            var scheduler = new TimerFunctionScheduler(
                new RecordingTimer("0 */5 * * * *", runs), LeaseStore(), Invoker(time), time, TimeSpan.FromSeconds(15), NullLogger.Instance);
            scheduler.OccurrenceHandled += results.Enqueue;
            scheduler.Waiting += waiting.Enqueue;
            return scheduler.RunAsync(stop.Token);
        }).ToList();

        var first = new DateTimeOffset(2026, 3, 1, 10, 5, 0, TimeSpan.Zero);
        await Until(() => waiting.Count(w => w == first) == 2, "both instances wait for 10:05");
        time.Advance(TimeSpan.FromMinutes(5));
        await Until(() => results.Count(r => r.Occurrence == first) == 2, "both instances handled 10:05");

        var second = first.AddMinutes(5);
        await Until(() => waiting.Count(w => w == second) == 2, "both instances wait for 10:10");
        time.Advance(TimeSpan.FromMinutes(5));
        await Until(() => results.Count(r => r.Occurrence == second) == 2, "both instances handled 10:10");

        await stop.CancelAsync();
        await Task.WhenAll(instances);

        Assert.Equal(2, runs.Count);
        Assert.All(runs, r => Assert.False(r.IsPastDue));
        foreach (var occurrence in new[] { first, second })
        {
            var handled = results.Where(r => r.Occurrence == occurrence).Select(r => r.Outcome).ToList();
            Assert.Equal(1, handled.Count(o => o == TimerOccurrenceOutcome.Ran));
            Assert.Equal(1, handled.Count(o => o is TimerOccurrenceOutcome.SkippedLeaseHeld or TimerOccurrenceOutcome.SkippedAlreadyRan));
        }
    }

    [Fact]
    public async Task A_failing_timer_occurrence_is_logged_not_retried_and_not_run_again_by_another_instance()
    {
        // Like the host: a timer failure is only logged; the occurrence counts as done.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 10, 4, 0, TimeSpan.Zero));
        var attempts = 0;
        var results = new ConcurrentQueue<TimerOccurrenceResult>();
        var waiting = new ConcurrentQueue<DateTimeOffset>();
        var leases = LeaseStore();
        using var stop = new CancellationTokenSource();
        var scheduler = new TimerFunctionScheduler(
            new FailingTimer(() => Interlocked.Increment(ref attempts)), leases, Invoker(time), time, TimeSpan.FromSeconds(15), NullLogger.Instance);
        scheduler.OccurrenceHandled += results.Enqueue;
        scheduler.Waiting += waiting.Enqueue;
        var run = scheduler.RunAsync(stop.Token);
        await Until(() => waiting.Count == 1, "waiting for 10:05");
        time.Advance(TimeSpan.FromMinutes(1));
        await Until(() => results.Count == 1, "10:05 handled");

        // An instance starting now finds 10:05 done (not past due) and waits for 10:10 like the first one.
        var late = new TimerFunctionScheduler(
            new FailingTimer(() => Interlocked.Increment(ref attempts)), leases, Invoker(time), time, TimeSpan.FromSeconds(15), NullLogger.Instance);
        late.OccurrenceHandled += results.Enqueue;
        late.Waiting += waiting.Enqueue;
        var lateRun = late.RunAsync(stop.Token);
        var tenTen = new DateTimeOffset(2026, 3, 1, 10, 10, 0, TimeSpan.Zero);
        await Until(() => waiting.Count(w => w == tenTen) == 2, "both instances wait for 10:10");
        await stop.CancelAsync();
        await Task.WhenAll(run, lateRun);

        Assert.Equal(TimerOccurrenceOutcome.Failed, Assert.Single(results).Outcome);
        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task An_occurrence_missed_while_no_instance_ran_is_made_up_once_as_past_due()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 10, 4, 0, TimeSpan.Zero));
        var runs = new ConcurrentQueue<FunctionInvocation>();
        var results = new ConcurrentQueue<TimerOccurrenceResult>();
        var waiting = new ConcurrentQueue<DateTimeOffset>();
        var leases = LeaseStore();

        using (var stop = new CancellationTokenSource())
        {
            var scheduler = new TimerFunctionScheduler(new RecordingTimer("0 */5 * * * *", runs), leases, Invoker(time), time, TimeSpan.FromSeconds(15), NullLogger.Instance);
            scheduler.OccurrenceHandled += results.Enqueue;
            scheduler.Waiting += waiting.Enqueue;
            var run = scheduler.RunAsync(stop.Token);
            await Until(() => waiting.Count == 1, "waiting for 10:05");
            time.Advance(TimeSpan.FromMinutes(1));
            await Until(() => results.Count == 1, "10:05 ran");
            await stop.CancelAsync();
            await run;
        }

        // Down from 10:05 until 10:17: 10:10 and 10:15 were missed; one past-due run makes up for them, as the host does.
        time.Advance(TimeSpan.FromMinutes(12));
        using (var stop = new CancellationTokenSource())
        {
            var restarted = new TimerFunctionScheduler(new RecordingTimer("0 */5 * * * *", runs), leases, Invoker(time), time, TimeSpan.FromSeconds(15), NullLogger.Instance);
            restarted.Waiting += waiting.Enqueue;
            var run = restarted.RunAsync(stop.Token);
            await Until(() => waiting.Contains(new DateTimeOffset(2026, 3, 1, 10, 20, 0, TimeSpan.Zero)), "restarted instance waits for 10:20");
            await stop.CancelAsync();
            await run;
        }

        Assert.Equal([false, true], runs.Select(r => r.IsPastDue));
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 10, 20, 0, TimeSpan.Zero), waiting.Last());
    }

    [Fact]
    public async Task A_queue_message_that_always_fails_is_tried_five_times_then_moved_to_poison()
    {
        var queueName = $"{_prefix}-work";
        var function = new RecordingQueueFunction(queueName, fail: true);
        var queue = new StorageTriggerQueue(QueueService(), queueName);
        await queue.EnsureExistsAsync();
        await queue.SendAsync("""{"job":"always-fails"}""");

        using var stop = new CancellationTokenSource();
        var poller = Poller(function, queue);
        var run = poller.RunAsync(stop.Token);
        var poison = RawQueue(queue.PoisonQueueName);
        await Until(async () => (await poison.PeekMessagesAsync(1)).Value.Length == 1, "message in the poison queue");
        await stop.CancelAsync();
        await run;

        Assert.Equal([1L, 2L, 3L, 4L, 5L], function.Attempts.Select(a => a.DequeueCount).Order());
        Assert.All(function.Attempts, a => Assert.Equal("""{"job":"always-fails"}""", a.QueueMessage));
        var poisoned = (await poison.ReceiveMessagesAsync(10)).Value;
        Assert.Equal("""{"job":"always-fails"}""", Assert.Single(poisoned).Body.ToString());
        Assert.Empty((await RawQueue(queueName).PeekMessagesAsync(10)).Value);
    }

    [Fact]
    public async Task A_queue_message_that_succeeds_is_processed_once_and_deleted()
    {
        var queueName = $"{_prefix}-ok";
        var function = new RecordingQueueFunction(queueName, fail: false);
        var queue = new StorageTriggerQueue(QueueService(), queueName);
        await queue.EnsureExistsAsync();
        await queue.SendAsync("first");
        await queue.SendAsync("second");

        using var stop = new CancellationTokenSource();
        var run = Poller(function, queue).RunAsync(stop.Token);
        await Until(() => function.Attempts.Count == 2, "both messages processed");
        await Until(async () => (await RawQueue(queueName).GetPropertiesAsync()).Value.ApproximateMessagesCount == 0, "queue empty");
        await stop.CancelAsync();
        await run;

        Assert.Equal(["first", "second"], function.Attempts.Select(a => a.QueueMessage).Order());
        Assert.All(function.Attempts, a => Assert.Equal(1, a.DequeueCount));
        Assert.Empty((await RawQueue(queue.PoisonQueueName).PeekMessagesAsync(10)).Value);
    }

    [Fact]
    public async Task A_message_that_is_not_base64_goes_to_poison_without_reaching_the_function()
    {
        var queueName = $"{_prefix}-raw";
        var function = new RecordingQueueFunction(queueName, fail: false);
        var queue = new StorageTriggerQueue(QueueService(), queueName);
        await queue.EnsureExistsAsync();
        // Another producer that forgot the host's base64 encoding.
        await new QueueClient(TestEnvironment.StorageConnectionString, queueName).SendMessageAsync("{not base64}");

        using var stop = new CancellationTokenSource();
        var run = Poller(function, queue).RunAsync(stop.Token);
        var poison = RawQueue(queue.PoisonQueueName);
        await Until(async () => (await poison.PeekMessagesAsync(1)).Value.Length == 1, "message in the poison queue");
        await stop.CancelAsync();
        await run;

        Assert.Empty(function.Attempts);
    }

    [Fact]
    public async Task The_whole_app_in_standalone_mode_poisons_a_failing_message_of_its_own_queue_function()
    {
        // The real wiring: the built app with no Functions host, its own poller, the diagnostic queue function.
        await using var app = await AppProcess.StartStandaloneAsync(new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = TestEnvironment.StorageConnectionString,
            ["LlmCost__Storage__Prefix"] = _prefix,
            ["LlmCost__Hosting__DiagnosticFunctions"] = "true",
            ["LlmCost__Hosting__QueueVisibilityTimeout"] = "00:00:00",
            ["LlmCost__Hosting__QueueMaxPollingInterval"] = "00:00:00.200",
            ["LLMCOST_ADMIN_KEY"] = "standalone-test-admin-key-0123456789",
        });
        var queue = new StorageTriggerQueue(QueueService(), $"{_prefix}-diagnostics");
        await queue.EnsureExistsAsync();
        await queue.SendAsync("""{"fail":true}""");
        await queue.SendAsync("""{"expect_dequeue_count":1}""");

        var poison = RawQueue(queue.PoisonQueueName);
        await Until(async () => (await poison.PeekMessagesAsync(1)).Value.Length == 1, "failing message in the poison queue\n" + app.Output);
        await Until(async () => (await RawQueue(queue.Name).GetPropertiesAsync()).Value.ApproximateMessagesCount == 0, "queue drained");

        var poisoned = (await poison.ReceiveMessagesAsync(10)).Value;
        Assert.Equal("""{"fail":true}""", Assert.Single(poisoned).Body.ToString());
    }

    private QueueFunctionPoller Poller(IBackgroundFunction function, ITriggerQueue queue) => new(
        function,
        queue,
        Invoker(TimeProvider.System),
        TimeProvider.System,
        new CustomHandlerOptions { QueueVisibilityTimeout = TimeSpan.Zero, QueueMaxPollingInterval = TimeSpan.FromMilliseconds(200) },
        NullLogger.Instance);

    private static BackgroundFunctionInvoker Invoker(TimeProvider time) => new(NullLogger<BackgroundFunctionInvoker>.Instance, time);

    private BlobFunctionLeaseStore LeaseStore() =>
        new(new BlobServiceClient(TestEnvironment.StorageConnectionString).GetBlobContainerClient($"{_prefix}-hosts"));

    private static QueueServiceClient QueueService() => new(TestEnvironment.StorageConnectionString, TriggerQueueConventions.CreateClientOptions());

    /// <summary>A plain SDK client that reads queues as the host does (base64), without the app's poison handling.</summary>
    private static QueueClient RawQueue(string name) => new(TestEnvironment.StorageConnectionString, name, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });

    private static Task Until(Func<bool> condition, string what) => Until(() => Task.FromResult(condition()), what);

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting for: " + what);
            }

            await Task.Delay(50);
        }
    }

    private sealed class RecordingTimer(string schedule, ConcurrentQueue<FunctionInvocation> runs) : IBackgroundFunction
    {
        public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("TestTimer", schedule);

        public Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
        {
            runs.Enqueue(invocation);
            return Task.CompletedTask;
        }
    }

    private sealed class FailingTimer(Action onAttempt) : IBackgroundFunction
    {
        public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("FailingTimer", "0 */5 * * * *");

        public Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
        {
            onAttempt();
            throw new InvalidOperationException("this timer always fails");
        }
    }

    private sealed class RecordingQueueFunction(string queueName, bool fail) : IBackgroundFunction
    {
        public ConcurrentQueue<FunctionInvocation> Attempts { get; } = new();

        public FunctionDefinition Definition { get; } = FunctionDefinition.QueueTriggered("TestQueue", queueName);

        public Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
        {
            Attempts.Enqueue(invocation);
            return fail ? throw new InvalidOperationException("this function always fails") : Task.CompletedTask;
        }
    }
}
