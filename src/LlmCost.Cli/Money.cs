using System.Globalization;

namespace LlmCost.Cli;

internal static class Money
{
    /// <summary>A decimal as a plain string without exponent or trailing zeros ("0.013275", "3", "0").</summary>
    public static string Format(decimal value) =>
        value.ToString("0.############################", CultureInfo.InvariantCulture);

    /// <summary>The same value without trailing zeros in its scale (2.5000000m -> 2.5m), for JSON numbers.</summary>
    public static decimal Normalize(decimal value) => value / 1.000000000000000000000000000000000m;
}
