using System.Globalization;
using System.Text.Json;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Usage;

/// <summary>
/// Reads counts out of a provider usage object into a <see cref="CanonicalUsage.Builder"/>, collecting errors under
/// the provider's own field names and remembering every field it read, so that the fields it did NOT read can be
/// reported as unknown (ignored, counted) afterwards. Paths are relative to the usage object
/// (<c>prompt_tokens_details.cached_tokens</c>); errors carry the request prefix in front.
/// </summary>
internal sealed class RawUsageReader(string prefix)
{
    private readonly HashSet<string> _touched = new(StringComparer.Ordinal);
    private readonly HashSet<string> _opaque = new(StringComparer.Ordinal);
    private readonly List<string> _unknown = [];

    public List<FieldError> Errors { get; } = [];

    public CanonicalUsage.Builder Usage { get; } = new();

    public IReadOnlyList<string> UnknownFields => _unknown;

    public decimal? ReportedCostUsd { get; set; }

    public static string Join(string? path, string name) => string.IsNullOrEmpty(path) ? name : $"{path}.{name}";

    public string FieldOf(string path) => $"{prefix}.{path}";

    /// <summary>Whether <paramref name="name"/> is present and not JSON null (and marks it read).</summary>
    public bool Has(JsonElement? obj, string? path, string name)
    {
        _touched.Add(Join(path, name));
        return obj is { } element && element.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null;
    }

    /// <summary>Marks fields as known but carrying nothing priced (e.g. <c>total_tokens</c>, timings, <c>service_tier</c>).</summary>
    public void Known(string? path, params ReadOnlySpan<string> names)
    {
        foreach (string name in names)
        {
            _touched.Add(Join(path, name));
        }
    }

    /// <summary>Marks whole objects as known and not walked (e.g. <c>cost_details</c>: money, not quantities).</summary>
    public void KnownOpaque(string? path, params ReadOnlySpan<string> names)
    {
        foreach (string name in names)
        {
            _touched.Add(Join(path, name));
            _opaque.Add(Join(path, name));
        }
    }

    /// <summary>Reads a count; null when absent or JSON null, an error (and null) when it is not a sane count.</summary>
    public long? Count(JsonElement? obj, string? path, string name, bool required = false)
    {
        string relative = Join(path, name);
        _touched.Add(relative);
        if (obj is not { } element || !element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                Errors.Add(new FieldError(FieldOf(relative), "is required"));
            }

            return null;
        }

        return UsageCounts.TryRead(value, FieldOf(relative), Errors, out long count) ? count : null;
    }

    /// <summary>A count that some senders write as a string (HTTP header values).</summary>
    public long? CountOrNumericString(JsonElement value, string relative)
    {
        _touched.Add(relative);
        if (value.ValueKind == JsonValueKind.String)
        {
            string text = value.GetString()!.Trim();
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long parsed) && parsed <= UsageCounts.MaxCount)
            {
                return parsed;
            }

            Errors.Add(new FieldError(FieldOf(relative), $"must be a non-negative whole number, got \"{text}\""));
            return null;
        }

        return UsageCounts.TryRead(value, FieldOf(relative), Errors, out long count) ? count : null;
    }

    /// <summary>Adds the count at <paramref name="name"/> to <paramref name="unit"/> when present (as genai-prices' extractors sum mappings).</summary>
    public long? Map(UsageUnit unit, JsonElement? obj, string? path, string name, bool required = false)
    {
        long? count = Count(obj, path, name, required);
        if (count is { } value)
        {
            Usage.Add(unit, value);
        }

        return count;
    }

    /// <summary>A nested object; null when absent or JSON null, an error when it is another type.</summary>
    public JsonElement? Object(JsonElement? obj, string? path, string name) => Nested(obj, path, name, JsonValueKind.Object, "an object");

    /// <summary>A nested array; null when absent or JSON null, an error when it is another type.</summary>
    public JsonElement? Array(JsonElement? obj, string? path, string name) => Nested(obj, path, name, JsonValueKind.Array, "an array");

    private JsonElement? Nested(JsonElement? obj, string? path, string name, JsonValueKind kind, string expected)
    {
        string relative = Join(path, name);
        _touched.Add(relative);
        if (obj is not { } element || !element.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != kind)
        {
            Errors.Add(new FieldError(FieldOf(relative), $"must be {expected}, got {UsageCounts.Describe(value.ValueKind)}"));
            return null;
        }

        return value;
    }

    /// <summary>
    /// Gemini's per-modality lists, <c>[{"modality":"AUDIO","tokenCount":12}, ...]</c>: the count of the FIRST entry
    /// of <paramref name="modality"/> (genai-prices' array-match), null when there is none. Entries of modalities
    /// not in <paramref name="known"/> are reported as unknown fields (<c>promptTokensDetails[SMELL]</c>).
    /// </summary>
    public long? Modality(JsonElement? list, string listName, string modality, IReadOnlySet<string> known, string countName = "tokenCount")
    {
        if (list is not { } array)
        {
            return null;
        }

        int index = 0;
        foreach (JsonElement entry in array.EnumerateArray())
        {
            string path = $"{listName}[{index}]";
            index++;
            if (entry.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            if (!entry.TryGetProperty("modality", out JsonElement name) || name.ValueKind != JsonValueKind.String)
            {
                continue;
            }

            string text = name.GetString()!;
            if (!known.Contains(text))
            {
                Unknown($"{listName}[{text}]");
                continue;
            }

            if (!string.Equals(text, modality, StringComparison.Ordinal))
            {
                continue;
            }

            JsonElement? count = entry.TryGetProperty(countName, out JsonElement c) ? c
                : entry.TryGetProperty("token_count", out JsonElement snake) ? snake : null;
            if (count is not { } value || value.ValueKind == JsonValueKind.Null)
            {
                return 0;
            }

            return UsageCounts.TryRead(value, $"{prefix}.{path}.{countName}", Errors, out long tokens) ? tokens : null;
        }

        return null;
    }

    /// <summary>Records an error when a detail count exceeds the total it is part of.</summary>
    public void PartOf(long? child, string childName, long? parent, string parentName)
    {
        if (child is { } c && c > (parent ?? 0))
        {
            Errors.Add(new FieldError(FieldOf(childName),
                $"{childName} ({c}) exceeds {parentName} ({parent ?? 0}), of which it is a part"));
        }
    }

    public void Error(string relative, string message) => Errors.Add(new FieldError(FieldOf(relative), message));

    public void Unknown(string relative)
    {
        if (!_unknown.Contains(relative))
        {
            _unknown.Add(relative);
        }
    }

    /// <summary>
    /// Walks the usage object and every nested object the normaliser read, reporting each property it neither
    /// read nor declared <see cref="Known"/>. Arrays are not walked (the normaliser reports what it skips in them).
    /// </summary>
    public void CollectUnknown(JsonElement usage, string? path = null)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (JsonProperty property in usage.EnumerateObject())
        {
            string relative = Join(path, property.Name);
            if (!_touched.Contains(relative))
            {
                Unknown(relative);
            }
            else if (property.Value.ValueKind == JsonValueKind.Object && !_opaque.Contains(relative))
            {
                CollectUnknown(property.Value, relative);
            }
        }
    }
}
