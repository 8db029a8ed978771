using System.Globalization;
using System.Text.RegularExpressions;

namespace LlmCost.Core.Pricing;

/// <summary>How many units of <see cref="Currency"/> one US dollar bought on <see cref="Date"/>.</summary>
public sealed record ExchangeRate(string Currency, DateOnly Date, decimal UnitsPerUsd);

/// <summary>
/// Configuration of display currencies (section e.g. "LlmCost:Currency"): rates per currency code, per date
/// ("yyyy-MM-dd"), in units per USD; and how old the newest rate may be before a conversion refuses.
/// </summary>
public sealed class CurrencyOptions
{
    /// <summary>e.g. { "EUR": { "2026-06-01": 0.92 }, "JPY": { "2026-06-01": 156.3 } }.</summary>
    public Dictionary<string, Dictionary<string, decimal>> Rates { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A conversion for a date more than this many days after the newest rate fails instead of using a stale rate.</summary>
    public int MaxRateAgeDays { get; set; } = 7;
}

/// <summary>The result of a conversion: the amount and the rate (date, value) it used, or why there is none.</summary>
public sealed record CurrencyConversion
{
    public required bool Success { get; init; }

    public required decimal AmountUsd { get; init; }

    public required string Currency { get; init; }

    /// <summary>Exact converted amount (no rounding).</summary>
    public decimal Amount { get; init; }

    /// <summary><see cref="Amount"/> rounded to the currency's minor unit (JPY 0 digits, most others 2), half away from zero.</summary>
    public decimal RoundedAmount { get; init; }

    /// <summary>Units of <see cref="Currency"/> per USD that were used.</summary>
    public decimal Rate { get; init; }

    /// <summary>The date of the rate used (the newest on or before the requested date).</summary>
    public DateOnly RateDate { get; init; }

    public string? Error { get; init; }

    /// <summary>e.g. "EUR 0.0113 at 0.92 EUR/USD of 2026-06-01".</summary>
    public string Describe() => Success
        ? $"{Currency} {Amount.ToString(CultureInfo.InvariantCulture)} at {Rate.ToString(CultureInfo.InvariantCulture)} {Currency}/USD of {RateDate:yyyy-MM-dd}"
        : $"no {Currency} amount: {Error}";
}

/// <summary>
/// Converts USD costs for display with dated exchange rates from configuration. Uses the newest rate dated on
/// or before the requested date; a missing currency, no rate that early, or a rate older than the allowed age
/// is a clear error, never a guess. Costs stay computed and stored in USD.
/// </summary>
public sealed partial class CurrencyConverter
{
    private static readonly Dictionary<string, int> s_minorDigits = new(StringComparer.Ordinal)
    {
        ["JPY"] = 0, ["KRW"] = 0, ["VND"] = 0, ["CLP"] = 0, ["ISK"] = 0, ["HUF"] = 2,
        ["BHD"] = 3, ["KWD"] = 3, ["OMR"] = 3, ["JOD"] = 3, ["TND"] = 3,
    };

    private readonly Dictionary<string, ExchangeRate[]> _rates;
    private readonly int _maxRateAgeDays;

    public CurrencyConverter(IEnumerable<ExchangeRate> rates, int maxRateAgeDays = 7)
    {
        ArgumentNullException.ThrowIfNull(rates);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRateAgeDays);
        _maxRateAgeDays = maxRateAgeDays;
        _rates = rates
            .GroupBy(r => r.Currency.ToUpperInvariant(), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(r => r.Date).ToArray(), StringComparer.Ordinal);
    }

    public IReadOnlyCollection<string> Currencies => _rates.Keys;

    /// <summary>Builds a converter from configuration; invalid entries are errors naming the field (no converter then).</summary>
    public static (CurrencyConverter? Converter, IReadOnlyList<string> Errors) FromOptions(CurrencyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var rates = new List<ExchangeRate>();
        if (options.MaxRateAgeDays < 0)
        {
            errors.Add("max_rate_age_days: must not be negative");
        }

        foreach ((string currency, Dictionary<string, decimal> byDate) in options.Rates)
        {
            string code = currency.ToUpperInvariant();
            if (!CurrencyCode().IsMatch(code))
            {
                errors.Add($"rates.{currency}: a currency is a 3-letter ISO 4217 code");
                continue;
            }

            foreach ((string date, decimal rate) in byDate)
            {
                if (!DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly day))
                {
                    errors.Add($"rates.{currency}.{date}: a date is yyyy-MM-dd");
                }
                else if (rate <= 0)
                {
                    errors.Add($"rates.{currency}.{date}: a rate must be positive (units of {code} per USD)");
                }
                else
                {
                    rates.Add(new ExchangeRate(code, day, rate));
                }
            }
        }

        return errors.Count > 0 ? (null, errors) : (new CurrencyConverter(rates, options.MaxRateAgeDays), errors);
    }

    /// <param name="on">The date the cost belongs to (e.g. the event's UTC date).</param>
    public CurrencyConversion Convert(decimal amountUsd, string currency, DateOnly on)
    {
        ArgumentNullException.ThrowIfNull(currency);
        string code = currency.Trim().ToUpperInvariant();
        if (code == "USD")
        {
            return Success(amountUsd, code, 1m, on);
        }

        if (!CurrencyCode().IsMatch(code))
        {
            return Failure(amountUsd, currency, $"'{currency}' is not a 3-letter ISO 4217 currency code");
        }

        if (!_rates.TryGetValue(code, out ExchangeRate[]? rates) || rates.Length == 0)
        {
            string known = _rates.Count == 0 ? "none" : string.Join(", ", _rates.Keys.Order(StringComparer.Ordinal));
            return Failure(amountUsd, code, $"no exchange rate configured for {code} (configured: {known})");
        }

        ExchangeRate? chosen = null;
        foreach (ExchangeRate rate in rates)
        {
            if (rate.Date > on)
            {
                break;
            }

            chosen = rate;
        }

        if (chosen is null)
        {
            return Failure(amountUsd, code, $"no {code} rate on or before {on:yyyy-MM-dd} (the earliest is {rates[0].Date:yyyy-MM-dd})");
        }

        int age = on.DayNumber - chosen.Date.DayNumber;
        if (age > _maxRateAgeDays)
        {
            return Failure(amountUsd, code,
                $"the newest {code} rate on or before {on:yyyy-MM-dd} is from {chosen.Date:yyyy-MM-dd}, {age} days old (more than the allowed {_maxRateAgeDays})");
        }

        return Success(amountUsd, code, chosen.UnitsPerUsd, chosen.Date);
    }

    private static CurrencyConversion Success(decimal amountUsd, string code, decimal rate, DateOnly rateDate)
    {
        decimal amount = amountUsd * rate;
        return new CurrencyConversion
        {
            Success = true,
            AmountUsd = amountUsd,
            Currency = code,
            Amount = amount,
            RoundedAmount = RoundToMinorUnit(amount, code),
            Rate = rate,
            RateDate = rateDate,
        };
    }

    /// <summary>An amount rounded to the currency's minor unit (JPY 0 digits, most others 2), half away from zero.</summary>
    public static decimal RoundToMinorUnit(decimal amount, string currency) =>
        Math.Round(amount, s_minorDigits.GetValueOrDefault(currency, 2), MidpointRounding.AwayFromZero);

    private static CurrencyConversion Failure(decimal amountUsd, string code, string error) =>
        new() { Success = false, AmountUsd = amountUsd, Currency = code, Error = error };

    [GeneratedRegex("^[A-Z]{3}$")]
    private static partial Regex CurrencyCode();
}
