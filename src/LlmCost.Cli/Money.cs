using System.Globalization;

namespace LlmCost.Cli;

internal static class Money
{
    /// <summary>A decimal as a plain string without exponent or trailing zeros ("0.013275", "3", "0").</summary>
    public static string Format(decimal value) =>
        value.ToString("0.############################", CultureInfo.InvariantCulture);
}
