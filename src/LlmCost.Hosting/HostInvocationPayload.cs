using System.Globalization;
using System.Text.Json;

namespace LlmCost.Hosting;

/// <summary>
/// Reads the Functions host's invocation payload <c>{"Data":{...},"Metadata":{...}}</c> (reference §2.1-2.4) into a
/// <see cref="FunctionInvocation"/>. The host JSON-encodes string values twice (a queue message arrives as a JSON
/// string whose content is a JSON string literal), sends numeric metadata such as DequeueCount as strings, and a
/// TimerInfo as a real object.
/// </summary>
public static class HostInvocationPayload
{
    public static bool TryParse(
        FunctionDefinition definition,
        JsonElement payload,
        string invocationId,
        out FunctionInvocation? invocation,
        out string? error)
    {
        ArgumentNullException.ThrowIfNull(definition);
        invocation = null;
        error = null;
        if (payload.ValueKind != JsonValueKind.Object)
        {
            error = "The invocation payload must be a JSON object with 'Data' and 'Metadata'.";
            return false;
        }

        var data = Property(payload, "Data");
        var metadata = Property(payload, "Metadata");
        switch (definition.Trigger)
        {
            case TriggerKind.Queue:
                var item = TriggerValue(data, FunctionsHostSettings.QueueBindingName);
                var message = item is { } value ? DecodeHostString(value) : null;
                if (message is null)
                {
                    error = $"Data.{FunctionsHostSettings.QueueBindingName} (the queue message) is required.";
                    return false;
                }

                long dequeueCount = 1;
                if (metadata is { } meta && Property(meta, "DequeueCount") is { } count && !TryReadLong(count, out dequeueCount))
                {
                    error = "Metadata.DequeueCount must be a whole number.";
                    return false;
                }

                invocation = new FunctionInvocation(definition.Name, invocationId, message, dequeueCount);
                return true;
            case TriggerKind.Timer:
                var isPastDue = false;
                if (TriggerValue(data, FunctionsHostSettings.TimerBindingName) is { ValueKind: JsonValueKind.Object } timer
                    && Property(timer, "IsPastDue") is { } pastDue && !TryReadBool(pastDue, out isPastDue))
                {
                    error = $"Data.{FunctionsHostSettings.TimerBindingName}.IsPastDue must be a boolean.";
                    return false;
                }

                invocation = new FunctionInvocation(definition.Name, invocationId, IsPastDue: isPastDue);
                return true;
            default:
                error = $"{definition.Name} is an HTTP function: the host forwards its requests to /{definition.Route}.";
                return false;
        }
    }

    /// <summary>
    /// A string value as the host sends it: a JSON string whose content is itself JSON-encoded ("\"text\"") is
    /// decoded once more; an object or array (newer hosts, or typed bindings) is taken as its JSON text.
    /// </summary>
    public static string? DecodeHostString(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                var text = value.GetString()!;
                if (text.Length >= 2 && text[0] == '"')
                {
                    try
                    {
                        return JsonSerializer.Deserialize<string>(text) ?? text;
                    }
                    catch (JsonException)
                    {
                        return text;
                    }
                }

                return text;
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                return null;
            default:
                return value.GetRawText();
        }
    }

    private static JsonElement? TriggerValue(JsonElement? data, string bindingName)
    {
        if (data is not { ValueKind: JsonValueKind.Object } d)
        {
            return null;
        }

        if (Property(d, bindingName) is { } named)
        {
            return named;
        }

        // Robust to a renamed binding: a trigger-only function has exactly one Data entry.
        using var entries = d.EnumerateObject();
        var all = entries.ToList();
        return all.Count == 1 ? all[0].Value : null;
    }

    private static JsonElement? Property(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value;
            }
        }

        return null;
    }

    private static bool TryReadLong(JsonElement value, out long result)
    {
        result = 0;
        return value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetInt64(out result),
            JsonValueKind.String => long.TryParse(DecodeHostString(value), NumberStyles.None, CultureInfo.InvariantCulture, out result),
            _ => false,
        };
    }

    private static bool TryReadBool(JsonElement value, out bool result)
    {
        result = false;
        switch (value.ValueKind)
        {
            case JsonValueKind.True:
                result = true;
                return true;
            case JsonValueKind.False:
                return true;
            case JsonValueKind.String:
                return bool.TryParse(DecodeHostString(value), out result);
            default:
                return false;
        }
    }
}
