using System.Globalization;
using Cronos;
using LlmCost.Hosting.AzureStorage;

namespace LlmCost.Hosting;

public enum TimerOccurrenceOutcome
{
    Ran,
    Failed,
    /// <summary>Another instance holds the timer's lease (it is running this occurrence).</summary>
    SkippedLeaseHeld,
    /// <summary>The lease's state says this occurrence already ran (on another instance).</summary>
    SkippedAlreadyRan,
}

public sealed record TimerOccurrenceResult(string FunctionName, DateTimeOffset Occurrence, TimerOccurrenceOutcome Outcome);

/// <summary>
/// Standalone mode's timer trigger for one function: waits (on the injected TimeProvider) for each occurrence of the
/// six-field NCRONTAB schedule and runs it under a blob lease named after the function. The lease holds the last
/// occurrence that ran, so an occurrence runs once across all instances sharing the storage, however their clocks
/// and start times interleave. Like the host's schedule monitor, a run missed while no instance was up is made up
/// once at start-up with IsPastDue = true; a failure is logged and not retried (timers have no retry by default).
/// </summary>
public sealed class TimerFunctionScheduler
{
    private const string LastKey = "lastoccurrence";
    private const string NextKey = "nextoccurrence";

    private readonly IBackgroundFunction _function;
    private readonly IFunctionLeaseStore _leases;
    private readonly BackgroundFunctionInvoker _invoker;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _leaseDuration;
    private readonly ILogger _logger;
    private readonly CronExpression _schedule;

    public TimerFunctionScheduler(
        IBackgroundFunction function,
        IFunctionLeaseStore leases,
        BackgroundFunctionInvoker invoker,
        TimeProvider timeProvider,
        TimeSpan leaseDuration,
        ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(function);
        if (function.Definition.Trigger != TriggerKind.Timer || function.Definition.Schedule is null)
        {
            throw new ArgumentException($"{function.Definition.Name} is not a timer function.", nameof(function));
        }

        _function = function;
        _leases = leases;
        _invoker = invoker;
        _timeProvider = timeProvider;
        _leaseDuration = leaseDuration;
        _logger = logger;
        _schedule = CronExpression.Parse(function.Definition.Schedule, CronFormat.IncludeSeconds);
    }

    /// <summary>Raised after each occurrence this instance handled (ran, or skipped because another instance did).</summary>
    public event Action<TimerOccurrenceResult>? OccurrenceHandled;

    /// <summary>Raised when this instance starts waiting for an occurrence (tests advance a fake clock after it).</summary>
    public event Action<DateTimeOffset>? Waiting;

    private string Name => _function.Definition.Name;

    private string LeaseName => $"timers/{Name}";

    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        await CatchUpAsync(cancellationToken).ConfigureAwait(false);
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = _timeProvider.GetUtcNow();
            var next = Next(now);
            if (next is null)
            {
                return;
            }

            try
            {
                // The delay's timer exists before Waiting is raised, so a test advancing its clock then cannot miss it.
                var delay = Task.Delay(next.Value - now, _timeProvider, cancellationToken);
                Waiting?.Invoke(next.Value);
                await delay.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            await TryRunOccurrenceAsync(next.Value, OccurrenceKind.Scheduled, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A run at start (runOnStartup, or the standalone-only start run), or a past-due occurrence recorded by an earlier run that never happened.</summary>
    private async Task CatchUpAsync(CancellationToken cancellationToken = default)
    {
        var now = _timeProvider.GetUtcNow();
        if (_function.Definition.RunOnStartup || _function.Definition.RunAtStandaloneStart)
        {
            await TryRunOccurrenceAsync(now, OccurrenceKind.Startup, cancellationToken).ConfigureAwait(false);
            return;
        }

        await TryRunOccurrenceAsync(now, OccurrenceKind.PastDueCheck, cancellationToken).ConfigureAwait(false);
    }

    private async Task TryRunOccurrenceAsync(DateTimeOffset occurrence, OccurrenceKind kind, CancellationToken cancellationToken = default)
    {
        try
        {
            await RunOccurrenceAsync(occurrence, kind, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Storage outage: this occurrence is lost on this instance (another may run it); the loop goes on.
            CustomHandlerLog.TimerStorageError(_logger, ex, Name);
        }
    }

    private async Task RunOccurrenceAsync(DateTimeOffset occurrence, OccurrenceKind kind, CancellationToken cancellationToken = default)
    {
        var pastDueCheck = kind == OccurrenceKind.PastDueCheck;
        var lease = await _leases.TryAcquireAsync(LeaseName, _leaseDuration, cancellationToken).ConfigureAwait(false);
        if (lease is null)
        {
            if (!pastDueCheck)
            {
                Report(occurrence, TimerOccurrenceOutcome.SkippedLeaseHeld);
            }

            return;
        }

        await using (lease.ConfigureAwait(false))
        {
            var last = ReadTime(lease.State, LastKey);
            var recordedNext = ReadTime(lease.State, NextKey);
            if (pastDueCheck)
            {
                // Past due only when an earlier instance scheduled an occurrence that nobody ran.
                if (recordedNext is null || recordedNext > occurrence || (last is not null && last >= recordedNext))
                {
                    return;
                }

                occurrence = recordedNext.Value;
            }
            else if (kind == OccurrenceKind.Scheduled && last is not null && last >= occurrence)
            {
                Report(occurrence, TimerOccurrenceOutcome.SkippedAlreadyRan);
                return;
            }

            var outcome = await RunUnderLeaseAsync(lease, isPastDue: pastDueCheck, cancellationToken).ConfigureAwait(false);
            var state = new Dictionary<string, string>
            {
                [LastKey] = occurrence.UtcDateTime.ToString("o", CultureInfo.InvariantCulture),
            };
            if (Next(occurrence) is { } next)
            {
                state[NextKey] = next.UtcDateTime.ToString("o", CultureInfo.InvariantCulture);
            }

            await lease.WriteStateAsync(state, cancellationToken).ConfigureAwait(false);
            await lease.ReleaseAsync(cancellationToken).ConfigureAwait(false);
            Report(occurrence, outcome.Succeeded ? TimerOccurrenceOutcome.Ran : TimerOccurrenceOutcome.Failed);
        }
    }

    private async Task<InvocationOutcome> RunUnderLeaseAsync(IFunctionLease lease, bool isPastDue, CancellationToken cancellationToken = default)
    {
        using var renewing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewal = RenewAsync(lease, renewing.Token);
        try
        {
            var invocation = new FunctionInvocation(Name, Guid.NewGuid().ToString(), IsPastDue: isPastDue);
            return await _invoker.InvokeAsync(_function, invocation, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await renewing.CancelAsync().ConfigureAwait(false);
            await renewal.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task RenewAsync(IFunctionLease lease, CancellationToken cancellationToken = default)
    {
        var period = TimeSpan.FromSeconds(Math.Clamp(_leaseDuration.TotalSeconds, 15, 60) / 3);
        using var timer = new PeriodicTimer(period, _timeProvider);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            await lease.RenewAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private DateTimeOffset? Next(DateTimeOffset after) =>
        _schedule.GetNextOccurrence(after.UtcDateTime, inclusive: false) is { } next ? new DateTimeOffset(next, TimeSpan.Zero) : null;

    private static DateTimeOffset? ReadTime(IReadOnlyDictionary<string, string> state, string key) =>
        state.TryGetValue(key, out var text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var value)
            ? value
            : null;

    private void Report(DateTimeOffset occurrence, TimerOccurrenceOutcome outcome)
    {
        CustomHandlerLog.TimerOccurrence(_logger, Name, occurrence, outcome);
        OccurrenceHandled?.Invoke(new TimerOccurrenceResult(Name, occurrence, outcome));
    }

    private enum OccurrenceKind
    {
        /// <summary>An occurrence of the schedule: runs unless the lease state says it already ran.</summary>
        Scheduled,

        /// <summary>runOnStartup (or the standalone start run): runs once on each start, like the host.</summary>
        Startup,

        /// <summary>Start-up check: runs the recorded next occurrence if nobody ran it (IsPastDue = true).</summary>
        PastDueCheck,
    }
}
