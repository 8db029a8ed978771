using System.Globalization;
using System.Security.Cryptography;
using LlmCost.Core.Audit;

namespace LlmCost.Core.Pricing;

/// <summary>
/// A published catalog version: an immutable file (genai-prices or LiteLLM JSON) named by its publication time and
/// content hash, so every instance that reads the pointer prices from byte-identical data.
/// </summary>
public sealed record CatalogPointer(string Version, string Sha256, DateTimeOffset PublishedAt, string Format, int Models, string Actor);

/// <summary>Where published catalogs live (Blob storage in production): immutable version files plus one pointer.</summary>
public interface ICatalogStore
{
    /// <summary>The version in force for every instance; null = none published (the built-in catalog).</summary>
    Task<CatalogPointer?> ReadPointerAsync(CancellationToken cancellationToken = default);

    /// <summary>The bytes of a published version; null when it does not exist.</summary>
    Task<byte[]?> ReadVersionAsync(string version, CancellationToken cancellationToken = default);

    /// <summary>Stores the version file (never overwriting one), THEN moves the pointer to it.</summary>
    Task PublishAsync(CatalogPointer pointer, byte[] content, CancellationToken cancellationToken = default);

    /// <summary>Every published version, oldest first.</summary>
    Task<IReadOnlyList<CatalogPointer>> ListAsync(CancellationToken cancellationToken = default);
}

/// <summary>The outcome of a publication: the new version, or why it was refused (load error or error-level findings).</summary>
public sealed record CatalogPublishResult(CatalogPointer? Published, IReadOnlyList<CatalogIssue> Issues, string? Error)
{
    public bool Succeeded => Published is not null;
}

/// <summary>
/// Publishes a catalog file: loaded and validated exactly as <c>llmcost catalog validate</c> does; any
/// error-level finding (or a file that does not load) refuses it, so a bad file never becomes the pointer's target.
/// </summary>
public sealed class CatalogPublisher(ICatalogStore store, TimeProvider time, AuditTrail? audit = null)
{
    public async Task<CatalogPublishResult> PublishAsync(byte[] content, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        (CatalogLoadResult loaded, string sha) = Validate(content, "upload");
        if (!loaded.Success)
        {
            return new CatalogPublishResult(null, loaded.Issues, loaded.Error);
        }

        if (loaded.Issues.Any(i => i.Severity == IssueSeverity.Error))
        {
            return new CatalogPublishResult(null, loaded.Issues, "the catalog has error-level findings");
        }

        DateTimeOffset now = time.GetUtcNow();
        var pointer = new CatalogPointer(
            $"{now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}-{sha[..12]}",
            sha, now, FormatName(loaded.Format), loaded.Catalog!.ModelCount, actor);
        await store.PublishAsync(pointer, content, cancellationToken).ConfigureAwait(false);
        if (audit is not null)
        {
            await audit.RecordAsync(AuditEntry.Create(AuditEntry.ServiceWide, actor, "catalog.publish", "catalog", pointer.Version, now,
                new Dictionary<string, string>
                {
                    ["sha256"] = sha,
                    ["format"] = pointer.Format,
                    ["models"] = pointer.Models.ToString(CultureInfo.InvariantCulture),
                    ["warnings"] = loaded.Issues.Count(i => i.Severity == IssueSeverity.Warning).ToString(CultureInfo.InvariantCulture),
                }), cancellationToken).ConfigureAwait(false);
        }

        return new CatalogPublishResult(pointer, loaded.Issues, null);
    }

    /// <summary>Loads <paramref name="content"/> with every entry (as the validator does) and reports all findings.</summary>
    public static (CatalogLoadResult Result, string Sha256) Validate(byte[] content, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(content);
        string sha = Convert.ToHexStringLower(SHA256.HashData(content));
        using var stream = new MemoryStream(content, writable: false);
        return (CatalogLoader.Load(stream, sourceName, includeSuspicious: true), sha);
    }

    public static string FormatName(CatalogFormat? format) => format switch
    {
        CatalogFormat.GenaiPrices => "genai-prices",
        CatalogFormat.LiteLlm => "litellm",
        _ => "unknown",
    };
}

/// <summary>
/// The catalog in force on this instance: the pointer's version once it has been downloaded, checked against its
/// hash and validated again here (a file that fails is refused and the previous catalog stays in force), else the
/// built-in catalog. <see cref="RefreshAsync"/> is called at start and then on a timer by the host.
/// </summary>
public sealed class PublishedCatalogSource(ICatalogStore store) : ICatalogSource
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile CatalogVersion? _current;

    /// <summary>The last version this instance refused, and why (null when none).</summary>
    public (string Version, string Reason)? LastRefused { get; private set; }

    public CatalogVersion Current
    {
        get
        {
            if (_current is { } current)
            {
                return current;
            }

            // Only before the first poll: pricing with the built-in catalog while a published one is in force
            // elsewhere would make instances disagree.
            RefreshAsync().GetAwaiter().GetResult();
            return _current ?? CatalogVersion.BuiltIn;
        }
    }

    /// <summary>Follows the pointer; true when the catalog in force changed.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            CatalogPointer? pointer = await store.ReadPointerAsync(cancellationToken).ConfigureAwait(false);
            CatalogVersion? current = _current;
            if (pointer is null)
            {
                _current = current ?? CatalogVersion.BuiltIn;
                return current is null;
            }

            if (current?.Version == pointer.Version || LastRefused?.Version == pointer.Version)
            {
                _current = current ?? CatalogVersion.BuiltIn;
                return false;
            }

            byte[]? content = await store.ReadVersionAsync(pointer.Version, cancellationToken).ConfigureAwait(false);
            string? refusal = content is null ? "the version file is missing" : null;
            CatalogLoadResult? loaded = null;
            if (content is not null)
            {
                (loaded, string sha) = PublishedCatalogVersion(content, pointer.Version);
                refusal = sha != pointer.Sha256 ? $"its content hash is {sha}, the pointer says {pointer.Sha256}"
                    : !loaded.Success ? loaded.Error
                    : loaded.Issues.FirstOrDefault(i => i.Severity == IssueSeverity.Error) is { } error ? $"error-level finding: {error}"
                    : null;
            }

            if (refusal is not null)
            {
                LastRefused = (pointer.Version, refusal);
                _current = current ?? CatalogVersion.BuiltIn;
                return false;
            }

            _current = new CatalogVersion(pointer.Version, loaded!.Catalog!);
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    private static (CatalogLoadResult, string) PublishedCatalogVersion(byte[] content, string version) =>
        CatalogPublisher.Validate(content, $"catalog {version}");
}
