using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using LlmCost.Core.Pricing;

namespace LlmCost.Storage.Pricing;

/// <summary>
/// Published catalogs in container <c>{prefix}-catalogs</c>: <c>versions/{version}.json</c> (the file exactly as
/// published, created only if absent, its pointer fields as metadata) and <c>current.json</c> (the pointer). The
/// version file is written before the pointer, so the pointer never names a file that is not there; the pointer
/// only moves forward in publication time (conditional on the ETag read), so a slow older publication cannot
/// replace a newer one.
/// </summary>
public sealed class BlobCatalogStore(LlmCostStorage storage) : ICatalogStore
{
    public const string ContainerName = "catalogs";
    private const string PointerBlob = "current.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private BlobContainerClient Container => storage.Container(ContainerName);

    public async Task<CatalogPointer?> ReadPointerAsync(CancellationToken cancellationToken = default)
    {
        (CatalogPointer? pointer, _) = await ReadPointerWithETagAsync(cancellationToken).ConfigureAwait(false);
        return pointer;
    }

    public async Task<byte[]?> ReadVersionAsync(string version, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(version);
        try
        {
            Response<BlobDownloadResult> file = await Container.GetBlobClient(VersionBlob(version)).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return file.Value.Content.ToArray();
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    public async Task PublishAsync(CatalogPointer pointer, byte[] content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pointer);
        ArgumentNullException.ThrowIfNull(content);
        try
        {
            await Container.GetBlobClient(VersionBlob(pointer.Version)).UploadAsync(new BinaryData(content), new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
                Metadata = Metadata(pointer),
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            // The same version (same second, same content) was published already: the file is identical.
        }

        BlobClient blob = Container.GetBlobClient(PointerBlob);
        for (int attempt = 0; attempt < OptimisticConcurrency.DefaultMaxAttempts; attempt++)
        {
            (CatalogPointer? current, ETag? etag) = await ReadPointerWithETagAsync(cancellationToken).ConfigureAwait(false);
            if (current is not null && current.PublishedAt > pointer.PublishedAt)
            {
                return; // a newer publication won
            }

            try
            {
                await blob.UploadAsync(BinaryData.FromObjectAsJson(pointer, Json), new BlobUploadOptions
                {
                    Conditions = etag is { } e ? new BlobRequestConditions { IfMatch = e } : new BlobRequestConditions { IfNoneMatch = ETag.All },
                    HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
                }, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
                // Another publication moved the pointer in between: decide again.
            }
        }

        throw new StorageContentionException("the catalog pointer kept changing during publication");
    }

    public async Task<IReadOnlyList<CatalogPointer>> ListAsync(CancellationToken cancellationToken = default)
    {
        var versions = new List<CatalogPointer>();
        await foreach (BlobItem item in Container.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, "versions/", cancellationToken).ConfigureAwait(false))
        {
            if (FromMetadata(item.Metadata) is { } pointer)
            {
                versions.Add(pointer);
            }
        }

        return versions.OrderBy(v => v.PublishedAt).ThenBy(v => v.Version, StringComparer.Ordinal).ToList();
    }

    private async Task<(CatalogPointer? Pointer, ETag? ETag)> ReadPointerWithETagAsync(CancellationToken cancellationToken)
    {
        try
        {
            Response<BlobDownloadResult> file = await Container.GetBlobClient(PointerBlob).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return (file.Value.Content.ToObjectFromJson<CatalogPointer>(Json), file.Value.Details.ETag);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return (null, null);
        }
    }

    private static string VersionBlob(string version) => $"versions/{version}.json";

    private static Dictionary<string, string> Metadata(CatalogPointer p) => new()
    {
        ["version"] = p.Version,
        ["sha256"] = p.Sha256,
        ["publishedat"] = p.PublishedAt.ToString("O", CultureInfo.InvariantCulture),
        ["format"] = p.Format,
        ["models"] = p.Models.ToString(CultureInfo.InvariantCulture),
        ["actor"] = p.Actor,
    };

    private static CatalogPointer? FromMetadata(IDictionary<string, string> m) =>
        m.TryGetValue("version", out string? version) && m.TryGetValue("sha256", out string? sha)
        && m.TryGetValue("publishedat", out string? at) && DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.None, out DateTimeOffset publishedAt)
            ? new CatalogPointer(version, sha, publishedAt, m.TryGetValue("format", out string? f) ? f : "unknown",
                m.TryGetValue("models", out string? n) && int.TryParse(n, CultureInfo.InvariantCulture, out int models) ? models : 0,
                m.TryGetValue("actor", out string? actor) ? actor : "unknown")
            : null;
}
