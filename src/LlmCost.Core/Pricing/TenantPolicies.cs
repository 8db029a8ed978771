using System.Globalization;
using System.Text.Json;
using LlmCost.Core.Audit;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Pricing;

/// <summary>
/// One version of a tenant's price policy: the tenant's section of the policy format (<see cref="TenantPricing"/>)
/// in force from <see cref="EffectiveFrom"/>. Versions are only ever added: a replacement is a new version, a
/// deletion is a version without terms, so the price in force at any past instant stays answerable.
/// </summary>
public sealed record TenantPolicyVersion
{
    public required string TenantId { get; init; }

    /// <summary>1, 2, 3, … in the order the versions were written.</summary>
    public required int Version { get; init; }

    public required DateTimeOffset EffectiveFrom { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Who wrote it ("key:{keyId}").</summary>
    public required string Actor { get; init; }

    /// <summary>The terms; null for a deletion (list prices from <see cref="EffectiveFrom"/>).</summary>
    public TenantPricing? Terms { get; init; }

    public bool Deleted => Terms is null;

    /// <summary>The terms as policy-format JSON (snake_case), as stored.</summary>
    public string? TermsJson => Terms is null ? null : JsonSerializer.Serialize(Terms, PricingPolicy.JsonOptions);

    public static TenantPricing? ParseTerms(string? json) =>
        json is null ? null : JsonSerializer.Deserialize<TenantPricing>(json, PricingPolicy.JsonOptions);
}

/// <summary>Every version of one tenant's policy, oldest first.</summary>
public sealed record TenantPolicyHistory(string TenantId, IReadOnlyList<TenantPolicyVersion> Versions)
{
    public int LatestVersion => Versions.Count == 0 ? 0 : Versions.Max(v => v.Version);

    /// <summary>
    /// The version in force at <paramref name="at"/>: of the versions effective at or before it, the one with the
    /// latest effective time, and of those the last written. Null when none (list prices).
    /// </summary>
    public TenantPolicyVersion? InForceAt(DateTimeOffset at)
    {
        TenantPolicyVersion? best = null;
        foreach (TenantPolicyVersion v in Versions)
        {
            if (v.EffectiveFrom <= at
                && (best is null || v.EffectiveFrom > best.EffectiveFrom || (v.EffectiveFrom == best.EffectiveFrom && v.Version > best.Version)))
            {
                best = v;
            }
        }

        return best;
    }
}

/// <summary>Where tenant policies live (Table Storage in production). Append-only.</summary>
public interface ITenantPolicyStore
{
    Task<TenantPolicyHistory> ReadAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>Every tenant's history (a few rows per tenant: the policy cache loads them all).</summary>
    Task<IReadOnlyList<TenantPolicyHistory>> ReadAllAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds <paramref name="version"/> together with its audit line, atomically. False when a version with that
    /// number already exists (another writer was first): read again and retry with the next number.
    /// </summary>
    Task<bool> AppendAsync(TenantPolicyVersion version, AuditEntry audit, CancellationToken cancellationToken = default);
}

/// <summary>The outcome of a policy change: the new version, or every problem naming its field.</summary>
public sealed record TenantPolicyChange(TenantPolicyVersion? Version, IReadOnlyList<FieldError> Errors, bool NotFound = false)
{
    public bool Succeeded => Version is not null;
}

/// <summary>
/// Creates, replaces and deletes tenant policies: validated with the same rules as the CLI's <c>--policy</c>
/// (<see cref="PricingPolicy.Validate"/>), versioned, audited with the change itself.
/// </summary>
public sealed class TenantPolicyService(ITenantPolicyStore store, TimeProvider time, Func<PriceCatalog>? catalog = null)
{
    public const string EffectiveFromField = "effective_from";
    private const int MaxAttempts = 8;

    /// <summary>Invoked after a change is stored, so this instance's cache sees it at once.</summary>
    public event Action<string>? Changed;

    public Task<TenantPolicyHistory> GetAsync(string tenantId, CancellationToken cancellationToken = default) =>
        store.ReadAsync(tenantId, cancellationToken);

    /// <summary>Parses one tenant's section (plus optional <c>effective_from</c>) and stores it as the next version.</summary>
    public async Task<TenantPolicyChange> PutAsync(string tenantId, JsonElement body, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        DateTimeOffset now = time.GetUtcNow();
        (TenantPricing? terms, DateTimeOffset? effectiveFrom, List<FieldError> errors) = Parse(tenantId, body, catalog?.Invoke());
        if (terms is null)
        {
            return new TenantPolicyChange(null, errors);
        }

        return await AppendAsync(tenantId, terms, effectiveFrom ?? now, actor, "pricing_policy.put", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends the tenant's policy from <paramref name="effectiveFrom"/> (default now); NotFound when none is in force or scheduled.</summary>
    public async Task<TenantPolicyChange> DeleteAsync(string tenantId, DateTimeOffset? effectiveFrom, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        DateTimeOffset at = effectiveFrom ?? time.GetUtcNow();
        TenantPolicyHistory history = await store.ReadAsync(tenantId, cancellationToken).ConfigureAwait(false);
        if (history.Versions.Count == 0 || history.Versions.OrderByDescending(v => v.Version).First().Deleted)
        {
            return new TenantPolicyChange(null, [], NotFound: true);
        }

        return await AppendAsync(tenantId, null, at, actor, "pricing_policy.delete", cancellationToken).ConfigureAwait(false);
    }

    private async Task<TenantPolicyChange> AppendAsync(
        string tenantId, TenantPricing? terms, DateTimeOffset effectiveFrom, string actor, string action, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            TenantPolicyHistory history = await store.ReadAsync(tenantId, cancellationToken).ConfigureAwait(false);
            DateTimeOffset now = time.GetUtcNow();
            var version = new TenantPolicyVersion
            {
                TenantId = tenantId,
                Version = history.LatestVersion + 1,
                EffectiveFrom = effectiveFrom,
                CreatedAt = now,
                Actor = actor,
                Terms = terms,
            };
            var details = new Dictionary<string, string>
            {
                ["version"] = version.Version.ToString(CultureInfo.InvariantCulture),
                [EffectiveFromField] = effectiveFrom.ToString("O", CultureInfo.InvariantCulture),
            };
            if (version.TermsJson is { } json)
            {
                details["terms"] = json;
            }

            AuditEntry audit = AuditEntry.Create(tenantId, actor, action, "pricing_policy", tenantId, now, details);
            if (await store.AppendAsync(version, audit, cancellationToken).ConfigureAwait(false))
            {
                Changed?.Invoke(tenantId);
                return new TenantPolicyChange(version, []);
            }
        }

        throw new InvalidOperationException($"the policy of tenant '{tenantId}' kept changing under {MaxAttempts} attempts");
    }

    /// <summary>
    /// Reads a PUT body: the tenant's section of the policy format plus <c>effective_from</c>, validated exactly as
    /// the CLI validates the same section inside a policy file. Field names are relative to the body.
    /// </summary>
    public static (TenantPricing? Terms, DateTimeOffset? EffectiveFrom, List<FieldError> Errors) Parse(string tenantId, JsonElement body, PriceCatalog? catalog)
    {
        var errors = new List<FieldError>();
        if (body.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError("body", "must be a JSON object (one tenant's section of the policy format)"));
            return (null, null, errors);
        }

        DateTimeOffset? effectiveFrom = null;
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (JsonProperty property in body.EnumerateObject())
            {
                if (property.NameEquals(EffectiveFromField))
                {
                    effectiveFrom = ParseTime(property.Value, errors);
                    continue;
                }

                property.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        TenantPricing? terms;
        try
        {
            terms = JsonSerializer.Deserialize<TenantPricing>(buffer.ToArray(), PricingPolicy.JsonOptions);
        }
        catch (JsonException e)
        {
            string field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "body" : e.Path.TrimStart('$', '.');
            errors.Add(new FieldError(field, FirstSentence(e.Message)));
            return (null, effectiveFrom, errors);
        }

        if (terms is null)
        {
            errors.Add(new FieldError("body", "must be a JSON object"));
            return (null, effectiveFrom, errors);
        }

        // null where a list or an object belongs is refused here (the shared validator assumes the shapes).
        if (terms.VolumeTiers is null)
        {
            errors.Add(new FieldError("volume_tiers", "must be an array"));
        }
        else
        {
            errors.AddRange(terms.VolumeTiers.Select((t, i) => (t, i)).Where(x => x.t is null).Select(x => new FieldError($"volume_tiers[{x.i}]", "must be an object")));
        }

        if (terms.Models is null)
        {
            errors.Add(new FieldError("models", "must be an array"));
        }
        else
        {
            errors.AddRange(terms.Models.Select((m, i) => (m, i)).Where(x => x.m is null).Select(x => new FieldError($"models[{x.i}]", "must be an object")));
        }

        if (errors.Count > 0)
        {
            return (null, effectiveFrom, errors);
        }

        // The same validation as a policy file's section (the CLI's --policy), with paths relative to the section.
        var policy = new PricingPolicy { Tenants = new Dictionary<string, TenantPricing> { [tenantId] = terms } };
        string prefix = $"tenants.{tenantId}";
        foreach (string error in policy.Validate(catalog))
        {
            int colon = error.IndexOf(": ", StringComparison.Ordinal);
            string path = colon < 0 ? "body" : error[..colon];
            string message = colon < 0 ? error : error[(colon + 2)..];
            path = path.StartsWith(prefix, StringComparison.Ordinal) ? path[prefix.Length..].TrimStart('.') : path;
            errors.Add(new FieldError(path.Length == 0 ? "body" : path, message));
        }

        return errors.Count == 0 ? (terms, effectiveFrom, errors) : (null, effectiveFrom, errors);
    }

    /// <summary>An ISO 8601 time with an offset; anything else is refused (a local time would be a guess).</summary>
    public static DateTimeOffset? ParseTime(JsonElement value, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (value.ValueKind == JsonValueKind.String
            && value.GetString() is { } text
            && (text.EndsWith('Z') || text.LastIndexOfAny(['+', '-']) > 10)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out DateTimeOffset parsed)
            && parsed.Year is >= 2000 and <= 2999)
        {
            return parsed.ToUniversalTime();
        }

        errors.Add(new FieldError(EffectiveFromField, "must be an ISO 8601 time with an offset (e.g. 2026-07-01T00:00:00Z)"));
        return null;
    }

    private static string FirstSentence(string message)
    {
        // System.Text.Json appends "Path: $.x | LineNumber: ..." and type names; the field already names the place.
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
