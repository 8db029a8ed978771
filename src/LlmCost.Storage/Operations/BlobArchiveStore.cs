using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;
using LlmCost.Core.Retention;

namespace LlmCost.Storage.Operations;

/// <summary>Files in the "files" container. Download links: account-key SAS, else user-delegation SAS (managed identity), else none (proxied).</summary>
public sealed class BlobArchiveStore(LlmCostStorage storage, TimeProvider timeProvider) : IArchiveStore
{
    private BlobContainerClient Container => storage.Container(OperationsStorage.FilesContainer);

    public async Task WriteAsync(string path, byte[] content, string contentType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        await Container.GetBlobClient(path).UploadAsync(new BinaryData(content), new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            var result = await Container.GetBlobClient(path).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return result.Value.Content.ToArray();
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<StoredFile>> ListAsync(string prefix, CancellationToken cancellationToken = default)
    {
        var files = new List<StoredFile>();
        await foreach (var blob in Container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, cancellationToken).ConfigureAwait(false))
        {
            files.Add(new StoredFile(blob.Name, blob.Properties.ContentLength ?? 0, blob.Properties.ContentType, blob.Properties.LastModified));
        }

        return [.. files.OrderBy(f => f.Path, StringComparer.Ordinal)];
    }

    public async Task<Uri?> TryGetDownloadUriAsync(string path, TimeSpan validFor, CancellationToken cancellationToken = default)
    {
        var blob = Container.GetBlobClient(path);
        var expires = timeProvider.GetUtcNow() + validFor;
        if (blob.CanGenerateSasUri)
        {
            return blob.GenerateSasUri(BlobSasPermissions.Read, expires);
        }

        try
        {
            // Managed identity: a user-delegation key signs the SAS (needs "Storage Blob Delegator" on the account).
            var key = await storage.Blobs.GetUserDelegationKeyAsync(timeProvider.GetUtcNow().AddMinutes(-5), expires, cancellationToken).ConfigureAwait(false);
            var sas = new BlobSasBuilder(BlobSasPermissions.Read, expires) { BlobContainerName = blob.BlobContainerName, BlobName = blob.Name, Resource = "b" };
            return new BlobUriBuilder(blob.Uri) { Sas = sas.ToSasQueryParameters(key.Value, storage.Blobs.AccountName) }.ToUri();
        }
        catch (RequestFailedException)
        {
            return null;
        }
    }
}
