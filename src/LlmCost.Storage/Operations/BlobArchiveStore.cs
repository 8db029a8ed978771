using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;
using LlmCost.Core.Retention;

namespace LlmCost.Storage.Operations;

/// <summary>
/// Files in the "files" container. Download links: account-key SAS, else user-delegation SAS (managed identity), else
/// none (proxied). Every path is checked segment by segment (<see cref="FilePaths.IsSafe"/>) before it becomes a blob
/// name: the blob URL would otherwise collapse "." and ".." segments after any prefix check the caller made.
/// </summary>
public sealed class BlobArchiveStore(LlmCostStorage storage, TimeProvider timeProvider) : IArchiveStore
{
    private BlobContainerClient Container => storage.Container(OperationsStorage.FilesContainer);

    public async Task WriteAsync(string path, byte[] content, string contentType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        await Blob(path).UploadAsync(new BinaryData(content), new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken = default) =>
        (await ReadVersionedAsync(path, cancellationToken).ConfigureAwait(false))?.Content;

    public async Task<VersionedFile?> ReadVersionedAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            var result = await Blob(path).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return new VersionedFile(result.Value.Content.ToArray(), result.Value.Details.ETag.ToString());
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    public async Task<bool> TryWriteAsync(string path, byte[] content, string contentType, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        try
        {
            await Blob(path).UploadAsync(new BinaryData(content), new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
                Conditions = expectedVersion is null
                    ? new BlobRequestConditions { IfNoneMatch = ETag.All }
                    : new BlobRequestConditions { IfMatch = new ETag(expectedVersion) },
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return false;
        }
    }

    private BlobClient Blob(string path) => FilePaths.IsSafe(path)
        ? Container.GetBlobClient(path)
        : throw new ArgumentException($"'{path}' is not a safe file path (empty or dot-only segment, backslash or control character)", nameof(path));

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
        var blob = Blob(path);
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
