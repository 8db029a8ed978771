namespace LlmCost.Hosting;

/// <summary>How a function is triggered. HTTP functions are forwarded by the host (enableForwardingHttpRequest).</summary>
public enum TriggerKind
{
    Http,
    Timer,
    Queue,
}

/// <summary>
/// One Azure Functions function, defined once in code. The checked-in function.json files are generated from
/// these definitions (a test fails when they drift), and standalone mode schedules timers and polls queues from
/// the same definitions, so the host and standalone mode can never disagree.
/// </summary>
public sealed record FunctionDefinition
{
    /// <summary>The function name: the function.json folder name and the host's POST /{Name} path.</summary>
    public required string Name { get; init; }

    public required TriggerKind Trigger { get; init; }

    /// <summary>HTTP: the route below /api (e.g. "users/{userId}/usage").</summary>
    public string? Route { get; init; }

    /// <summary>HTTP: lower-case methods.</summary>
    public IReadOnlyList<string> Methods { get; init; } = [];

    /// <summary>Timer: six-field NCRONTAB (seconds first), as in function.json.</summary>
    public string? Schedule { get; init; }

    /// <summary>
    /// Timer: function.json's runOnStartup, which makes the host run the function whenever it starts: on Consumption
    /// and Flex Consumption that is every scale-out and every restart. The generator refuses it (false for every
    /// function); it is read back from a function.json only to behave as the host would with a hand-edited file.
    /// </summary>
    public bool RunOnStartup { get; init; }

    /// <summary>Timer, standalone mode only: run once when the standalone runner starts (local convenience, never in Azure).</summary>
    public bool RunAtStandaloneStart { get; init; }

    /// <summary>
    /// Queue: the storage queue name, or an app-setting expression ("%LLMCOST_ALERTS_QUEUE%") the host resolves from
    /// app settings, which is how a name that depends on configuration (the storage prefix) must be given. The poison
    /// queue is "{resolved name}-poison".
    /// </summary>
    public string? QueueName { get; init; }

    public static FunctionDefinition Timer(string name, string schedule, bool runAtStandaloneStart = false) =>
        new() { Name = name, Trigger = TriggerKind.Timer, Schedule = schedule, RunAtStandaloneStart = runAtStandaloneStart };

    public static FunctionDefinition QueueTriggered(string name, string queueName) =>
        new() { Name = name, Trigger = TriggerKind.Queue, QueueName = queueName };

    /// <summary>
    /// A queue function on one of the app's own queues (a logical name declared with AddLlmCostQueue): its function.json
    /// names the queue through the app setting <see cref="LlmCost.Storage.StorageNames.QueueSetting"/>, so the deployed files do
    /// not depend on the storage prefix they were generated with.
    /// </summary>
    public static FunctionDefinition StorageQueueTriggered(string name, string logicalQueueName) =>
        QueueTriggered(name, AppSettingExpressions.For(LlmCost.Storage.StorageNames.QueueSetting(logicalQueueName)));
}

/// <summary>
/// The body of a timer- or queue-triggered function. Invoked by the Functions host through POST /{Name}
/// (custom-handler protocol) or, in standalone mode, by the app's own scheduler and queue poller.
/// Side effects go through Core's ports (tables, queues, blobs) directly; functions declare no output bindings.
/// Throwing (or returning a failed result) makes the invocation fail: the host retries queue messages and
/// moves them to the poison queue after maxDequeueCount attempts, and standalone mode does exactly the same.
/// </summary>
public interface IBackgroundFunction
{
    FunctionDefinition Definition { get; }

    Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default);
}

/// <param name="FunctionName">The function being invoked.</param>
/// <param name="InvocationId">The host's X-Azure-Functions-InvocationId, or a new id in standalone mode.</param>
/// <param name="QueueMessage">Queue functions: the message text, already decoded (no double encoding left).</param>
/// <param name="DequeueCount">Queue functions: 1 on the first attempt.</param>
/// <param name="IsPastDue">Timer functions: the host says the run is late.</param>
public sealed record FunctionInvocation(
    string FunctionName,
    string InvocationId,
    string? QueueMessage = null,
    long DequeueCount = 0,
    bool IsPastDue = false);

public static class FunctionRegistration
{
    /// <summary>Registers a timer or queue function; the host and standalone mode find it by its definition.</summary>
    public static IServiceCollection AddBackgroundFunction<TFunction>(this IServiceCollection services)
        where TFunction : class, IBackgroundFunction
    {
        services.AddSingleton<IBackgroundFunction, TFunction>();
        return services;
    }
}
