using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace LlmCost.Core;

/// <summary>
/// The one way an amount of money is written as text, everywhere: the API, the budgets API, reports, alerts and the
/// CLI. Invariant culture, never an exponent, every digit the decimal holds (prices go to 1e-12 USD per token and
/// rounding them for display would make a sum of printed lines differ from the printed total), no trailing zeros
/// ("0.013275", "12.5", "3", "0"; never "-0").
/// </summary>
public static class MoneyFormat
{
    // A decimal has at most 29 significant digits, a sign and a point: 31 characters; 64 leaves room.
    private const int MaxLength = 64;

    public static string Format(decimal value)
    {
        Span<char> buffer = stackalloc char[MaxLength];
        bool formatted = value.TryFormat(buffer, out int written, default, CultureInfo.InvariantCulture);
        Debug.Assert(formatted, "a decimal always fits in 64 characters");
        return new string(Trim(buffer[..written]));
    }

    public static string? Format(decimal? value) => value is { } v ? Format(v) : null;

    /// <summary><see cref="Format(decimal)"/>'s text as a JSON string value, without allocating (the CLI's hot loop).</summary>
    public static void WriteString(Utf8JsonWriter json, JsonEncodedText name, decimal value)
    {
        ArgumentNullException.ThrowIfNull(json);
        Span<byte> buffer = stackalloc byte[MaxLength];
        bool formatted = value.TryFormat(buffer, out int written, default, CultureInfo.InvariantCulture);
        Debug.Assert(formatted, "a decimal always fits in 64 bytes");
        json.WriteString(name, Trim(buffer[..written]));
    }

    /// <inheritdoc cref="WriteString(Utf8JsonWriter, JsonEncodedText, decimal)"/>
    public static void WriteStringValue(Utf8JsonWriter json, decimal value)
    {
        ArgumentNullException.ThrowIfNull(json);
        Span<byte> buffer = stackalloc byte[MaxLength];
        bool formatted = value.TryFormat(buffer, out int written, default, CultureInfo.InvariantCulture);
        Debug.Assert(formatted, "a decimal always fits in 64 bytes");
        json.WriteStringValue(Trim(buffer[..written]));
    }

    /// <summary>The same value without trailing zeros in its scale (2.5000000m → 2.5m), for JSON numbers.</summary>
    public static decimal Normalize(decimal value) => value / 1.000000000000000000000000000000000m;

    // The general format of a decimal keeps its scale ("2.50") and never uses an exponent: drop the zeros the scale
    // added, then a bare point, and read a negative zero ("-0", "-0.00") as zero. Same rule for chars and UTF-8.
    private static ReadOnlySpan<char> Trim(ReadOnlySpan<char> text)
    {
        if (text.Contains('.'))
        {
            text = text.TrimEnd('0').TrimEnd('.');
        }

        return text is "-0" ? "0" : text;
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> text)
    {
        if (text.Contains((byte)'.'))
        {
            text = text.TrimEnd((byte)'0').TrimEnd((byte)'.');
        }

        return text.SequenceEqual("-0"u8) ? "0"u8 : text;
    }
}
