using LlmCost.Core.Pricing;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Apis.Pricing;

/// <summary>
/// Follows the published catalog pointer: once at start (before the first call is priced, when the host starts
/// its services first), then every <see cref="PricingOptions.CatalogPollSeconds"/>. A storage failure keeps the
/// catalog in force and is retried at the next tick.
/// </summary>
internal sealed partial class CatalogPollingService(
    PublishedCatalogSource source, IOptions<PricingOptions> options, TimeProvider time, ILogger<CatalogPollingService> logger) : BackgroundService
{
    private string? _reportedRefusal;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await PollAsync(cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        TimeSpan interval = TimeSpan.FromSeconds(options.Value.CatalogPollSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await PollAsync(stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        try
        {
            string before = source.Current.Version;
            if (await source.RefreshAsync(cancellationToken).ConfigureAwait(false))
            {
                CatalogChanged(logger, before, source.Current.Version);
            }
            else if (source.LastRefused is { } refused && refused.Version != _reportedRefusal)
            {
                _reportedRefusal = refused.Version; // once per version, not at every poll
                CatalogRefused(logger, refused.Version, refused.Reason);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            PollFailed(logger, ex);
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Price catalog in force changed from {Before} to {After}")]
    private static partial void CatalogChanged(ILogger logger, string before, string after);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Published price catalog {Version} refused; the previous one stays in force: {Reason}")]
    private static partial void CatalogRefused(ILogger logger, string version, string reason);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Could not read the published price catalog pointer; the catalog in force stays")]
    private static partial void PollFailed(ILogger logger, Exception exception);
}
