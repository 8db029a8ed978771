using System.Text.Json;

namespace LlmCost.Core.Usage;

/// <summary>Reads counts out of a provider usage object, collecting errors under the provider's own field names.</summary>
internal sealed class RawUsageReader(string prefix)
{
    public List<UsageError> Errors { get; } = [];

    public bool Has(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null;

    public long Required(JsonElement obj, string name)
    {
        string field = $"{prefix}.{name}";
        if (!obj.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            Errors.Add(new UsageError(field, "is required"));
            return 0;
        }

        return UsageCounts.TryRead(value, field, Errors, out long count) ? count : 0;
    }

    public long Optional(JsonElement obj, string name) => Optional(obj, null, name);

    /// <summary>Reads <paramref name="name"/> from <paramref name="obj"/> (a nested object at <paramref name="parentPath"/>), 0 when absent.</summary>
    public long Optional(JsonElement? obj, string? parentPath, string name)
    {
        if (obj is not { } element || !element.TryGetProperty(name, out JsonElement value))
        {
            return 0;
        }

        string field = parentPath is null ? $"{prefix}.{name}" : $"{prefix}.{parentPath}.{name}";
        return UsageCounts.TryRead(value, field, Errors, out long count) ? count : 0;
    }

    /// <summary>A nested details object; null when absent or JSON null, an error when it is another type.</summary>
    public JsonElement? Object(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Errors.Add(new UsageError($"{prefix}.{name}", $"must be an object, got {UsageCounts.Describe(value.ValueKind)}"));
            return null;
        }

        return value;
    }

    /// <summary>Gemini's per-modality lists: <c>[{"modality":"AUDIO","tokenCount":12}, ...]</c>; summed per modality.</summary>
    public long Modality(JsonElement obj, string listName, string modality)
    {
        if (!obj.TryGetProperty(listName, out JsonElement list) || list.ValueKind == JsonValueKind.Null)
        {
            return 0;
        }

        if (list.ValueKind != JsonValueKind.Array)
        {
            Errors.Add(new UsageError($"{prefix}.{listName}", $"must be an array, got {UsageCounts.Describe(list.ValueKind)}"));
            return 0;
        }

        long total = 0;
        int index = 0;
        foreach (JsonElement entry in list.EnumerateArray())
        {
            string path = $"{prefix}.{listName}[{index}]";
            index++;
            if (entry.ValueKind != JsonValueKind.Object)
            {
                Errors.Add(new UsageError(path, $"must be an object, got {UsageCounts.Describe(entry.ValueKind)}"));
                continue;
            }

            if (!entry.TryGetProperty("modality", out JsonElement name) || name.ValueKind != JsonValueKind.String
                || !string.Equals(name.GetString(), modality, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (entry.TryGetProperty("tokenCount", out JsonElement count)
                && UsageCounts.TryRead(count, $"{path}.tokenCount", Errors, out long value))
            {
                total += value;
            }
        }

        return total;
    }

    /// <summary>Records an error when a detail count exceeds the total it is part of.</summary>
    public void PartOf(long child, string childName, long parent, string parentName)
    {
        if (child > parent)
        {
            Errors.Add(new UsageError($"{prefix}.{childName}",
                $"{childName} ({child}) exceeds {parentName} ({parent}), of which it is a part"));
        }
    }

    public void Error(string name, string message) => Errors.Add(new UsageError($"{prefix}.{name}", message));
}
