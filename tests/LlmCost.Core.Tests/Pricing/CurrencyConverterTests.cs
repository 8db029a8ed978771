using LlmCost.Core.Pricing;

namespace LlmCost.Core.Tests.Pricing;

public sealed class CurrencyConverterTests
{
    private static readonly CurrencyConverter s_converter = CurrencyConverter.FromOptions(new CurrencyOptions
    {
        Rates = new(StringComparer.OrdinalIgnoreCase)
        {
            ["EUR"] = new() { ["2026-05-29"] = 0.9m, ["2026-06-01"] = 0.92m },
            ["gbp"] = new() { ["2026-06-01"] = 0.79m },
            ["JPY"] = new() { ["2026-06-01"] = 156.25m },
            ["CNY"] = new() { ["2026-06-01"] = 7.1m },
            ["INR"] = new() { ["2026-06-01"] = 83.5m },
        },
    }).Converter!;

    [Theory]
    [InlineData("EUR", "2026-06-03", 3.22, 3.22, 0.92, "2026-06-01")] // 3.5 * 0.92, newest rate on or before
    [InlineData("EUR", "2026-05-31", 3.15, 3.15, 0.9, "2026-05-29")] // 3.5 * 0.90
    [InlineData("GBP", "2026-06-01", 2.765, 2.77, 0.79, "2026-06-01")] // half away from zero
    [InlineData("JPY", "2026-06-01", 546.875, 547, 156.25, "2026-06-01")] // yen has no minor unit
    [InlineData("CNY", "2026-06-02", 24.85, 24.85, 7.1, "2026-06-01")]
    [InlineData("inr", "2026-06-01", 292.25, 292.25, 83.5, "2026-06-01")] // any configured currency
    [InlineData("USD", "2030-01-01", 3.5, 3.5, 1, "2030-01-01")]
    public void Convert_UsesTheNewestRateOnOrBeforeTheDate_AndSaysWhichOne(
        string currency, string on, double amount, double rounded, double rate, string rateDate)
    {
        CurrencyConversion result = s_converter.Convert(3.5m, currency, DateOnly.Parse(on));

        Assert.True(result.Success, result.Error);
        Assert.Equal((decimal)amount, result.Amount);
        Assert.Equal((decimal)rounded, result.RoundedAmount);
        Assert.Equal((decimal)rate, result.Rate);
        Assert.Equal(DateOnly.Parse(rateDate), result.RateDate);
        Assert.Equal(currency.ToUpperInvariant(), result.Currency);
    }

    [Fact]
    public void Describe_NamesTheRateAndItsDate()
    {
        Assert.Equal("EUR 3.220 at 0.92 EUR/USD of 2026-06-01", s_converter.Convert(3.5m, "EUR", new DateOnly(2026, 6, 1)).Describe());
    }

    [Theory]
    [InlineData("CHF", "2026-06-01", "no exchange rate configured for CHF (configured: CNY, EUR, GBP, INR, JPY)")]
    [InlineData("EUR", "2026-05-01", "no EUR rate on or before 2026-05-01 (the earliest is 2026-05-29)")]
    [InlineData("EUR", "2026-07-01", "the newest EUR rate on or before 2026-07-01 is from 2026-06-01, 30 days old (more than the allowed 7)")]
    [InlineData("US$", "2026-06-01", "'US$' is not a 3-letter ISO 4217 currency code")]
    public void MissingOrStaleRate_IsAClearError_NeverAGuess(string currency, string on, string error)
    {
        CurrencyConversion result = s_converter.Convert(3.5m, currency, DateOnly.Parse(on));

        Assert.False(result.Success);
        Assert.Equal(error, result.Error);
        Assert.Equal(0m, result.Amount);
    }

    [Fact]
    public void InvalidConfiguration_NamesEachField()
    {
        (CurrencyConverter? converter, IReadOnlyList<string> errors) = CurrencyConverter.FromOptions(new CurrencyOptions
        {
            Rates = new()
            {
                ["EURO"] = new() { ["2026-06-01"] = 1m },
                ["EUR"] = new() { ["01/06/2026"] = 1m, ["2026-06-02"] = 0m },
            },
            MaxRateAgeDays = -1,
        });

        Assert.Null(converter);
        Assert.Equal(
            [
                "max_rate_age_days: must not be negative",
                "rates.EURO: a currency is a 3-letter ISO 4217 code",
                "rates.EUR.01/06/2026: a date is yyyy-MM-dd",
                "rates.EUR.2026-06-02: a rate must be positive (units of EUR per USD)",
            ],
            errors);
    }
}
