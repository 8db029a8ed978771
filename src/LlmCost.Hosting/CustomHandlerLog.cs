namespace LlmCost.Hosting;

internal static partial class CustomHandlerLog
{
    [LoggerMessage(EventId = 7001, Level = LogLevel.Debug, Message = "Invoking {Function} ({InvocationId}), dequeue count {DequeueCount}, past due {IsPastDue}")]
    public static partial void Invoking(ILogger logger, string function, string invocationId, long dequeueCount, bool isPastDue);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Information, Message = "Executed {Function} ({InvocationId}) in {ElapsedMs} ms")]
    public static partial void Invoked(ILogger logger, string function, string invocationId, double elapsedMs);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Error, Message = "{Function} ({InvocationId}) failed on attempt {DequeueCount}")]
    public static partial void InvocationFailed(ILogger logger, Exception exception, string function, string invocationId, long dequeueCount);

    [LoggerMessage(EventId = 7010, Level = LogLevel.Information, Message = "Standalone mode: running {Timers} timer and {Queues} queue functions")]
    public static partial void StandaloneStarting(ILogger logger, int timers, int queues);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Information, Message = "Functions host mode: timer and queue functions are triggered by the host through POST /{{FunctionName}}")]
    public static partial void HostMode(ILogger logger);

    [LoggerMessage(EventId = 7012, Level = LogLevel.Information, Message = "Standalone mode with background functions turned off (LlmCost:Hosting:RunBackgroundFunctions=false)")]
    public static partial void BackgroundOff(ILogger logger);

    [LoggerMessage(EventId = 7013, Level = LogLevel.Error, Message = "Standalone mode cannot run the timer and queue functions")]
    public static partial void StandaloneUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 7020, Level = LogLevel.Debug, Message = "Timer {Function} occurrence {Occurrence:o}: {Outcome}")]
    public static partial void TimerOccurrence(ILogger logger, string function, DateTimeOffset occurrence, TimerOccurrenceOutcome outcome);

    [LoggerMessage(EventId = 7021, Level = LogLevel.Warning, Message = "Timer {Function}: storage error, retrying later")]
    public static partial void TimerStorageError(ILogger logger, Exception exception, string function);

    [LoggerMessage(EventId = 7030, Level = LogLevel.Warning, Message = "Queue {Queue}: message {MessageId} failed {DequeueCount} times, moved to {PoisonQueue}")]
    public static partial void MovedToPoison(ILogger logger, string queue, string messageId, long dequeueCount, string poisonQueue);

    [LoggerMessage(EventId = 7031, Level = LogLevel.Warning, Message = "Queue {Queue}: storage error, retrying later")]
    public static partial void QueueStorageError(ILogger logger, Exception exception, string queue);

    [LoggerMessage(EventId = 7040, Level = LogLevel.Information, Message = "Wrote {Count} function.json files to {Directory}")]
    public static partial void Generated(ILogger logger, int count, string directory);
}
