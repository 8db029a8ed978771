using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmCost.Storage.Recording;

/// <summary>
/// Runs the projector's sweep in the background: at start-up (a restarted instance picks up what it, or a dead
/// neighbour, left pending) and then every <see cref="UsageIngestOptions.SweepInterval"/>. With the defaults a
/// pending row is applied within SweepAge + SweepInterval (10 s) plus one cycle of any running instance.
/// </summary>
public sealed partial class UsageProjectionService(
    UsageProjector projector,
    IOptions<UsageIngestOptions> options,
    ILogger<UsageProjectionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.RunProjector)
        {
            return;
        }

        // Start-up must not wait for storage; the first sweep runs right after.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await projector.SweepAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogSweepFailed(logger, ex);
            }

            try
            {
                // An interval, not a timestamp: real time, so a fixed test clock cannot stop the sweep.
                await Task.Delay(options.Value.SweepInterval, TimeProvider.System, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "The pending-usage sweep failed; it runs again shortly")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
