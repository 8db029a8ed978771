using System.Text.Json;

namespace LlmCost.Core.Usage;

/// <summary>Reads token counts out of JSON, rejecting (never clamping) anything that is not a sane count.</summary>
internal static class UsageCounts
{
    /// <summary>
    /// The largest count accepted: 10^15 tokens. Far above any real call, and small enough that adding a handful
    /// of counts (Anthropic input + cache reads + cache writes) can never overflow a <see cref="long"/>, so no
    /// arithmetic downstream has to be checked.
    /// </summary>
    public const long MaxCount = 1_000_000_000_000_000;

    /// <summary>
    /// Reads <paramref name="value"/> as a count. JSON <c>null</c> counts as absent (some providers send
    /// <c>null</c> for details they did not compute). A number with a zero fraction (<c>12.0</c>) is accepted as
    /// the integer it denotes; anything else non-integral, negative, too large or not a number is an error.
    /// </summary>
    /// <returns>False when the value was absent or invalid (an error has been added for the latter).</returns>
    public static bool TryRead(JsonElement value, string field, List<FieldError> errors, out long count)
    {
        count = 0;
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                return false;
            case JsonValueKind.Number:
                break;
            default:
                errors.Add(new FieldError(field, $"must be a non-negative integer number, got {Describe(value.ValueKind)}"));
                return false;
        }

        if (value.TryGetInt64(out long integer))
        {
            return Check(integer, field, errors, out count);
        }

        // Not a plain integer literal: a fraction, an exponent, or beyond the range of long.
        if (value.TryGetDecimal(out decimal number))
        {
            if (decimal.Truncate(number) != number)
            {
                errors.Add(new FieldError(field, $"must be a whole number of tokens, got {value.GetRawText()}"));
                return false;
            }

            if (number < 0)
            {
                errors.Add(new FieldError(field, $"must not be negative, got {value.GetRawText()}"));
                return false;
            }

            if (number > MaxCount)
            {
                errors.Add(new FieldError(field, $"is too large ({value.GetRawText()}); the maximum is {MaxCount}"));
                return false;
            }

            return Check((long)number, field, errors, out count);
        }

        // Beyond decimal's range (e.g. 1e300): still say which way it is wrong.
        double asDouble = value.GetDouble();
        errors.Add(asDouble < 0
            ? new FieldError(field, $"must not be negative, got {value.GetRawText()}")
            : new FieldError(field, $"is too large ({value.GetRawText()}); the maximum is {MaxCount}"));
        return false;
    }

    private static bool Check(long value, string field, List<FieldError> errors, out long count)
    {
        count = 0;
        if (value < 0)
        {
            errors.Add(new FieldError(field, $"must not be negative, got {value}"));
            return false;
        }

        if (value > MaxCount)
        {
            errors.Add(new FieldError(field, $"is too large ({value}); the maximum is {MaxCount}"));
            return false;
        }

        count = value;
        return true;
    }

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.Null => "null",
        JsonValueKind.Number => "a number",
        _ => kind.ToString(),
    };
}
