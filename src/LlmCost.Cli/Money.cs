using System.Globalization;
using System.Text.Json;

namespace LlmCost.Cli;

internal static class Money
{
    /// <summary>A decimal as a plain string without exponent or trailing zeros ("0.013275", "3", "0").</summary>
    public static string Format(decimal value) =>
        value.ToString("0.############################", CultureInfo.InvariantCulture);

    /// <summary>The same value without trailing zeros in its scale (2.5000000m -> 2.5m), for JSON numbers.</summary>
    public static decimal Normalize(decimal value) => value / 1.000000000000000000000000000000000m;

    /// <summary>
    /// Writes <see cref="Format"/>'s text as a JSON string without allocating: the default UTF-8 format (never an
    /// exponent for decimal), then trailing zeros of the fraction trimmed. The hot loop of <c>llmcost price</c>.
    /// </summary>
    public static void WriteString(Utf8JsonWriter json, JsonEncodedText name, decimal value)
    {
        Span<byte> buffer = stackalloc byte[64];
        if (!value.TryFormat(buffer, out int written, default, CultureInfo.InvariantCulture))
        {
            json.WriteString(name, Format(value));
            return;
        }

        ReadOnlySpan<byte> text = buffer[..written];
        if (text.IndexOf((byte)'.') >= 0)
        {
            text = text.TrimEnd((byte)'0');
            if (text[^1] == (byte)'.')
            {
                text = text[..^1];
            }
        }

        // "-0" (a negative zero scale) reads as "0", as the custom format does.
        if (text.Length == 2 && text[0] == (byte)'-' && text[1] == (byte)'0')
        {
            text = text[1..];
        }

        json.WriteString(name, text);
    }
}
