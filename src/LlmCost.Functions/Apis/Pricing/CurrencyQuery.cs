using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;
using LlmCost.Core.Pricing;

namespace LlmCost.Functions.Apis.Pricing;

/// <summary>
/// The <c>currency</c> query parameter of usage queries and budget status: one dated rate from configuration
/// (<c>LlmCost:Currency:Rates:EUR:2026-06-01 = 0.92</c>) for the whole answer, the newest dated on or before the
/// day the answer is about, and the answer says which. Costs stay computed and stored in USD.
/// </summary>
public sealed class CurrencyQuery
{
    private readonly CurrencyConverter _converter;
    private readonly CurrencyConversion _rate;

    private CurrencyQuery(CurrencyConverter converter, CurrencyConversion rate)
    {
        _converter = converter;
        _rate = rate;
    }

    /// <param name="Code">ISO 4217 code.</param>
    /// <param name="Rate">Units of the currency per USD.</param>
    /// <param name="RateDate">The date of the configured rate used.</param>
    /// <param name="Description">e.g. "0.92 EUR/USD of 2026-06-01 (configuration LlmCost:Currency:Rates)".</param>
    public sealed record CurrencyWire(string Code, decimal Rate, DateOnly RateDate, string Description);

    public CurrencyWire Wire => new(_rate.Currency, _rate.Rate, _rate.RateDate,
        $"{_rate.Rate.ToString(CultureInfo.InvariantCulture)} {_rate.Currency}/USD of {_rate.RateDate:yyyy-MM-dd} (configuration LlmCost:Currency:Rates)");

    /// <summary>The amount in the currency, rounded to its minor unit, as a decimal string.</summary>
    public string Convert(decimal amountUsd) =>
        _converter.Convert(amountUsd, _rate.Currency, _rate.RateDate).RoundedAmount.ToString(CultureInfo.InvariantCulture);

    /// <summary>Reads <c>currency</c>: absent → no conversion; unknown, unconfigured or stale → 400 naming it.</summary>
    public static bool TryRead(HttpContext http, DateOnly on, out CurrencyQuery? currency, [NotNullWhen(false)] out IResult? problem)
    {
        ArgumentNullException.ThrowIfNull(http);
        currency = null;
        problem = null;
        string? code = http.Request.Query["currency"].ToString();
        if (string.IsNullOrEmpty(code))
        {
            return true;
        }

        if (http.Request.Query["currency"].Count > 1)
        {
            problem = ApiProblems.Field("currency", "appears more than once");
            return false;
        }

        CurrencyConverter converter = http.RequestServices.GetRequiredService<CurrencyConverter>();
        CurrencyConversion rate = converter.Convert(1m, code, on);
        if (!rate.Success)
        {
            string configured = converter.Currencies.Count == 0 ? "none is configured" : "configured: USD, " + string.Join(", ", converter.Currencies.Order(StringComparer.Ordinal));
            problem = ApiProblems.Field("currency", $"cannot be used: {rate.Error} ({configured})");
            return false;
        }

        currency = new CurrencyQuery(converter, rate);
        return true;
    }
}

/// <summary>Budget amounts in the requested currency, next to the USD ones.</summary>
public sealed record BudgetCurrencyAmounts(
    CurrencyQuery.CurrencyWire Currency,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Amount,
    string Spent,
    string Reserved,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Remaining,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Forecast);
