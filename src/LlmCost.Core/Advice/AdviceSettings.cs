using System.Text.Json;
using System.Text.Json.Serialization;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Advice;

/// <summary>
/// Per-tenant advice configuration (snake_case JSON, see docs/advice.md "Tenant configuration"). Model references
/// are "provider:model" (a name the catalog resolves, e.g. "openai:gpt-4o-2024-08-06") or "provider:*"; they are
/// resolved to catalog ids once, at load.
/// </summary>
public sealed class AdviceSettings
{
    public static AdviceSettings Empty { get; } = new(new Dictionary<string, TenantAdvice>(StringComparer.Ordinal));

    private readonly IReadOnlyDictionary<string, TenantAdvice> _tenants;

    private AdviceSettings(IReadOnlyDictionary<string, TenantAdvice> tenants) => _tenants = tenants;

    /// <summary>The tenant's configuration, or the defaults.</summary>
    public TenantAdvice For(string? tenantId) =>
        tenantId is not null && _tenants.TryGetValue(tenantId, out TenantAdvice? advice) ? advice : TenantAdvice.Default;

    /// <summary>Parses and validates; errors name the field (e.g. tenants.acme.quality.openai:gpt-9).</summary>
    public static AdviceSettingsLoad Load(string json, PriceCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(catalog);
        SettingsDto? dto;
        try
        {
            dto = JsonSerializer.Deserialize<SettingsDto>(json, Options);
        }
        catch (JsonException e)
        {
            return new AdviceSettingsLoad(null, [$"{(string.IsNullOrEmpty(e.Path) ? "$" : e.Path)}: {e.Message}"]);
        }

        var errors = new List<string>();
        var tenants = new Dictionary<string, TenantAdvice>(StringComparer.Ordinal);
        foreach ((string tenantId, TenantDto t) in dto?.Tenants ?? [])
        {
            string path = $"tenants.{tenantId}";
            var providers = new List<string>();
            foreach (string provider in t.Providers ?? [])
            {
                if (catalog.FindProvider(provider) is null)
                {
                    errors.Add($"{path}.providers: unknown provider '{provider}'");
                }
                else
                {
                    providers.Add(provider);
                }
            }

            var quality = new Dictionary<ModelKey, int>();
            foreach ((string reference, int score) in t.Quality ?? [])
            {
                if (score is < 0 or > 100)
                {
                    errors.Add($"{path}.quality.{reference}: a score is 0..100");
                }
                else if (ModelRef.TryParse(reference, catalog, out ModelRef parsed, out string? error) && !parsed.AnyModel)
                {
                    quality[parsed.Key] = score;
                }
                else
                {
                    errors.Add($"{path}.quality.{reference}: {error ?? "a quality score names one model, not provider:*"}");
                }
            }

            var taskTypes = new Dictionary<string, TaskTypeAdvice>(StringComparer.Ordinal);
            foreach ((string name, TaskTypeDto task) in t.TaskTypes ?? [])
            {
                if (task.MinQuality is < 0 or > 100)
                {
                    errors.Add($"{path}.task_types.{name}.min_quality: 0..100");
                }

                taskTypes[name] = new TaskTypeAdvice(task.MinQuality, ParseRefs(task.AllowedModels, $"{path}.task_types.{name}.allowed_models", catalog, errors));
            }

            CachingDto caching = t.Caching ?? new CachingDto(null, null, null);
            if (caching.RepeatedShare is <= 0 or > 1)
            {
                errors.Add($"{path}.caching.repeated_share: in (0, 1]");
            }

            if (caching.WriteEvery is < 1)
            {
                errors.Add($"{path}.caching.write_every: at least 1");
            }

            if (caching.MinPromptTokens is < 1)
            {
                errors.Add($"{path}.caching.min_prompt_tokens: at least 1");
            }

            tenants[tenantId] = new TenantAdvice
            {
                Providers = providers,
                AllowedModels = ParseRefs(t.AllowedModels, $"{path}.allowed_models", catalog, errors),
                Quality = quality,
                TaskTypes = taskTypes,
                NonInteractiveApps = t.NonInteractive?.Apps ?? [],
                NonInteractiveTags = t.NonInteractive?.Tags ?? new Dictionary<string, string>(),
                CachingMinPromptTokens = caching.MinPromptTokens ?? TenantAdvice.Default.CachingMinPromptTokens,
                CachingRepeatedShare = caching.RepeatedShare ?? TenantAdvice.Default.CachingRepeatedShare,
                CachingWriteEvery = caching.WriteEvery ?? TenantAdvice.Default.CachingWriteEvery,
            };
        }

        return errors.Count > 0 ? new AdviceSettingsLoad(null, errors) : new AdviceSettingsLoad(new AdviceSettings(tenants), []);
    }

    private static IReadOnlyList<ModelRef>? ParseRefs(List<string>? references, string path, PriceCatalog catalog, List<string> errors)
    {
        if (references is null)
        {
            return null;
        }

        var parsed = new List<ModelRef>();
        for (int i = 0; i < references.Count; i++)
        {
            if (ModelRef.TryParse(references[i], catalog, out ModelRef reference, out string? error))
            {
                parsed.Add(reference);
            }
            else
            {
                errors.Add($"{path}[{i}]: {error}");
            }
        }

        return parsed;
    }

    internal static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };

    private sealed record SettingsDto(Dictionary<string, TenantDto>? Tenants);

    private sealed record TenantDto(
        List<string>? Providers,
        List<string>? AllowedModels,
        Dictionary<string, int>? Quality,
        Dictionary<string, TaskTypeDto>? TaskTypes,
        NonInteractiveDto? NonInteractive,
        CachingDto? Caching);

    private sealed record TaskTypeDto(int? MinQuality, List<string>? AllowedModels);

    private sealed record NonInteractiveDto(List<string>? Apps, Dictionary<string, string>? Tags);

    private sealed record CachingDto(long? MinPromptTokens, decimal? RepeatedShare, int? WriteEvery);
}

public sealed record AdviceSettingsLoad(AdviceSettings? Settings, IReadOnlyList<string> Errors)
{
    public bool IsValid => Settings is not null;
}

/// <summary>A catalog model by ids.</summary>
public readonly record struct ModelKey(string Provider, string Model)
{
    public override string ToString() => $"{Provider}:{Model}";
}

/// <summary>"provider:model" resolved to catalog ids, or "provider:*".</summary>
public readonly record struct ModelRef(string Provider, string? Model)
{
    public bool AnyModel => Model is null;

    public ModelKey Key => new(Provider, Model ?? "*");

    public bool Matches(string provider, string model) =>
        string.Equals(Provider, provider, StringComparison.Ordinal) && (Model is null || string.Equals(Model, model, StringComparison.Ordinal));

    public static bool TryParse(string? text, PriceCatalog catalog, out ModelRef reference, out string? error)
    {
        reference = default;
        int colon = text?.IndexOf(':') ?? -1;
        if (text is null || colon <= 0 || colon == text.Length - 1)
        {
            error = $"'{text}' is not provider:model (e.g. openai:gpt-4o or anthropic:*)";
            return false;
        }

        string provider = text[..colon].Trim();
        string model = text[(colon + 1)..].Trim();
        if (catalog.FindProvider(provider) is not { } found)
        {
            error = $"unknown provider '{provider}'";
            return false;
        }

        if (model == "*")
        {
            reference = new ModelRef(found.Id, null);
            error = null;
            return true;
        }

        PriceCatalog.Resolution resolution = catalog.Resolve(found.Id, model);
        if (resolution.Model is not { } resolved)
        {
            error = resolution.Failure;
            return false;
        }

        reference = new ModelRef(resolved.ModelProvider.Id, resolved.Model.Id);
        error = null;
        return true;
    }
}

/// <summary>What a tenant configured for advice (all optional; <see cref="Default"/> when absent).</summary>
public sealed record TenantAdvice
{
    public static TenantAdvice Default { get; } = new();

    /// <summary>Providers the tenant may be advised to use besides the one it already calls (empty = only that one; for selection: every provider with capability data).</summary>
    public IReadOnlyList<string> Providers { get; init; } = [];

    /// <summary>When set, only these models may be suggested or selected.</summary>
    public IReadOnlyList<ModelRef>? AllowedModels { get; init; }

    /// <summary>The tenant's own quality scores (0..100) by catalog model: the quality floor and the same-quality rule compare these.</summary>
    public IReadOnlyDictionary<ModelKey, int> Quality { get; init; } = new Dictionary<ModelKey, int>();

    public IReadOnlyDictionary<string, TaskTypeAdvice> TaskTypes { get; init; } = new Dictionary<string, TaskTypeAdvice>(StringComparer.Ordinal);

    /// <summary>Apps whose traffic is not interactive (batch / off-peak advice applies).</summary>
    public IReadOnlyList<string> NonInteractiveApps { get; init; } = [];

    /// <summary>Tags (name = value) marking non-interactive traffic; "interactive": "false" always counts.</summary>
    public IReadOnlyDictionary<string, string> NonInteractiveTags { get; init; } = new Dictionary<string, string>();

    /// <summary>Shortest prompt the caching estimate considers (providers cache from 1,024 tokens).</summary>
    public long CachingMinPromptTokens { get; init; } = 1024;

    /// <summary>Assumed share of such a prompt that is a repeated prefix.</summary>
    public decimal CachingRepeatedShare { get; init; } = 0.5m;

    /// <summary>Assumed: one request in this many writes the cache, the others read it.</summary>
    public int CachingWriteEvery { get; init; } = 10;

    public int? QualityOf(string provider, string model) =>
        Quality.TryGetValue(new ModelKey(provider, model), out int score) ? score : null;

    public bool Allows(string provider, string model) =>
        AllowedModels is null || AllowedModels.Any(r => r.Matches(provider, model));
}

/// <summary>A task type's floor: a minimum tenant quality score and/or its own allow-list.</summary>
public sealed record TaskTypeAdvice(int? MinQuality, IReadOnlyList<ModelRef>? AllowedModels);
