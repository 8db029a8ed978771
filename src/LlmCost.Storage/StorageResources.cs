using Azure;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmCost.Storage;

public enum StorageResourceKind
{
    Table,
    Queue,
    Container,
}

/// <summary>A table, queue or container (logical name) that must exist; created at start-up.</summary>
public sealed record StorageResource(StorageResourceKind Kind, string LogicalName);

/// <summary>
/// Creates every registered <see cref="StorageResource"/> before the app serves (idempotent: "already exists"
/// is success), so no request path ever pays for or races on CreateIfNotExists. A queue also gets its
/// "-poison" twin, as the Functions host would create.
/// </summary>
internal sealed partial class StorageInitializer(
    LlmCostStorage storage,
    IEnumerable<StorageResource> resources,
    IOptions<LlmCostStorageOptions> options,
    ILogger<StorageInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.CreateResources)
        {
            return;
        }

        StorageResource[] distinct = resources.Distinct().ToArray();
        await Task.WhenAll(distinct.Select(r => CreateAsync(r, cancellationToken))).ConfigureAwait(false);
        LogCreated(logger, distinct.Length, storage.Names.Prefix);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task CreateAsync(StorageResource resource, CancellationToken cancellationToken)
    {
        try
        {
            switch (resource.Kind)
            {
                case StorageResourceKind.Table:
                    await storage.Table(resource.LogicalName).CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
                    break;
                case StorageResourceKind.Queue:
                    await storage.Queue(resource.LogicalName).CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                    await storage.Queue(resource.LogicalName + "-poison").CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                    break;
                case StorageResourceKind.Container:
                    await storage.Container(resource.LogicalName).CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(resource), resource.Kind, "unknown resource kind");
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            // Another instance created it between our check and create: that is the goal reached.
        }
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Storage ready: {Count} tables/queues/containers with prefix {Prefix}")]
    private static partial void LogCreated(ILogger logger, int count, string prefix);
}
