using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace LlmCost.Hosting.AzureStorage;

/// <summary>
/// Leases on empty blobs "locks/{name}" in one container (by default "{prefix}-hosts"), like the host's
/// azure-webjobs-hosts singleton locks. State lives in the blob's metadata and is written under the lease.
/// </summary>
public sealed class BlobFunctionLeaseStore : IFunctionLeaseStore
{
    private readonly BlobContainerClient _container;
    private readonly Lazy<Task> _containerCreated;

    public BlobFunctionLeaseStore(BlobContainerClient container)
    {
        _container = container;
        _containerCreated = new Lazy<Task>(() => _container.CreateIfNotExistsAsync());
    }

    public async Task<IFunctionLease?> TryAcquireAsync(string name, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        await _containerCreated.Value.ConfigureAwait(false);
        var blob = _container.GetBlobClient($"locks/{name}");
        var leaseClient = blob.GetBlobLeaseClient();
        // Blob leases last 15 to 60 seconds; longer work renews.
        var seconds = Math.Clamp(duration.TotalSeconds, 15, 60);
        BlobLease lease;
        try
        {
            lease = await AcquireAsync(blob, leaseClient, TimeSpan.FromSeconds(seconds), cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return null;
        }

        var conditions = new BlobRequestConditions { LeaseId = lease.LeaseId };
        BlobProperties properties = await blob.GetPropertiesAsync(conditions, cancellationToken).ConfigureAwait(false);
        return new BlobFunctionLease(name, blob, leaseClient, conditions, new Dictionary<string, string>(properties.Metadata));
    }

    private static async Task<BlobLease> AcquireAsync(BlobClient blob, BlobLeaseClient leaseClient, TimeSpan duration, CancellationToken cancellationToken)
    {
        try
        {
            return await leaseClient.AcquireAsync(duration, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // First use: create the empty lock blob (another instance may win that race; both then compete for the lease).
            try
            {
                await blob.UploadAsync(BinaryData.Empty, new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException created) when (created.Status is 409 or 412)
            {
            }

            return await leaseClient.AcquireAsync(duration, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed class BlobFunctionLease(
        string name,
        BlobClient blob,
        BlobLeaseClient leaseClient,
        BlobRequestConditions conditions,
        IReadOnlyDictionary<string, string> state) : IFunctionLease
    {
        private bool _released;

        public string Name => name;

        public IReadOnlyDictionary<string, string> State => state;

        public Task RenewAsync(CancellationToken cancellationToken = default) => leaseClient.RenewAsync(cancellationToken: cancellationToken);

        public async Task WriteStateAsync(IReadOnlyDictionary<string, string> newState, CancellationToken cancellationToken = default)
        {
            await blob.SetMetadataAsync(newState.ToDictionary(), conditions, cancellationToken).ConfigureAwait(false);
        }

        public async Task ReleaseAsync(CancellationToken cancellationToken = default)
        {
            if (_released)
            {
                return;
            }

            _released = true;
            await leaseClient.ReleaseAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await ReleaseAsync().ConfigureAwait(false);
            }
            catch (RequestFailedException)
            {
                // The lease expired or was lost; it frees itself within its duration.
            }
        }
    }
}
