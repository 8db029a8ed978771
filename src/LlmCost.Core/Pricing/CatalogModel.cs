using System.Globalization;
using System.Text.RegularExpressions;

namespace LlmCost.Core.Pricing;

/// <summary>When a <see cref="PriceEntry"/> applies (genai-prices `constraint`).</summary>
public abstract record PriceConstraint
{
    private protected PriceConstraint()
    {
    }

    internal abstract bool AppliesAt(DateTimeOffset at);
}

/// <summary>Historic price change: in force from <see cref="StartDate"/> (UTC midnight) on.</summary>
public sealed record StartDateConstraint(DateTimeOffset StartDate) : PriceConstraint
{
    internal override bool AppliesAt(DateTimeOffset at) => at >= StartDate;

    public override string ToString() => $"start_date {StartDate:yyyy-MM-dd}";
}

/// <summary>
/// A daily window (e.g. DeepSeek's off-peak hours), from <see cref="StartTime"/> inclusive to
/// <see cref="EndTime"/> exclusive, in UTC; a window whose end is before its start wraps midnight.
/// </summary>
public sealed record TimeOfDayConstraint : PriceConstraint
{
    private const double MillisecondsPerDay = 86_400_000d;
    private static readonly Regex s_time = new(
        @"^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$", RegexOptions.ECMAScript);

    public TimeOfDayConstraint(string startTime, string endTime)
    {
        StartTime = startTime;
        EndTime = endTime;
        StartMs = Parse(startTime);
        EndMs = Parse(endTime);
    }

    public string StartTime { get; }

    public string EndTime { get; }

    internal double StartMs { get; }

    internal double EndMs { get; }

    internal override bool AppliesAt(DateTimeOffset at)
    {
        // Millisecond resolution, as a JavaScript Date (the reference implementation) has.
        DateTime utc = at.UtcDateTime;
        double ms = (utc.Hour * 3600 + utc.Minute * 60 + utc.Second) * 1000d + utc.Millisecond;
        return EndMs < StartMs
            ? ms >= StartMs || ms < EndMs
            : ms >= StartMs && ms < EndMs;
    }

    public override string ToString() => $"time_of_date {StartTime}-{EndTime}";

    public static bool IsValid(string time) => s_time.IsMatch(time) && TryParse(time, out _);

    private static double Parse(string time) =>
        TryParse(time, out double ms) ? ms : throw new CatalogFormatException($"invalid time-of-day '{time}' (expected HH:MM:SS[.fff](Z|±HH:MM))");

    private static bool TryParse(string time, out double ms)
    {
        ms = 0;
        Match m = s_time.Match(time);
        if (!m.Success)
        {
            return false;
        }

        int hours = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        int minutes = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        int seconds = int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        double fraction = m.Groups[4].Success ? double.Parse("0." + m.Groups[4].Value, CultureInfo.InvariantCulture) : 0d;
        int offsetHours = m.Groups[7].Success ? int.Parse(m.Groups[7].Value, CultureInfo.InvariantCulture) : 0;
        int offsetMinutes = m.Groups[8].Success ? int.Parse(m.Groups[8].Value, CultureInfo.InvariantCulture) : 0;
        if (hours > 23 || minutes > 59 || seconds > 59 || offsetHours > 23 || offsetMinutes > 59)
        {
            return false;
        }

        double offset = (offsetHours * 60 + offsetMinutes) * 60 * 1000d;
        if (m.Groups[6].Value == "-")
        {
            offset = -offset;
        }

        double local = (hours * 3600 + minutes * 60 + seconds + fraction) * 1000d;
        ms = ((local - offset) % MillisecondsPerDay + MillisecondsPerDay) % MillisecondsPerDay;
        return true;
    }
}

/// <summary>One price table of a model and when it applies (null constraint = always / the default).</summary>
public sealed record PriceEntry(PriceConstraint? Constraint, PriceTable Table)
{
    /// <summary>Precomputed so that quoting does not format strings.</summary>
    internal string? ConstraintText { get; } = Constraint?.ToString();
}

/// <summary>A model of the catalog: how its name is matched and its price tables over time.</summary>
public sealed class CatalogModel
{
    public CatalogModel(string id, MatchRule match, IReadOnlyList<PriceEntry> prices)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentNullException.ThrowIfNull(match);
        ArgumentNullException.ThrowIfNull(prices);
        if (prices.Count == 0)
        {
            throw new ArgumentException("A model needs at least one price table.", nameof(prices));
        }

        Id = id;
        Match = match;
        Prices = prices;
    }

    public string Id { get; }

    public MatchRule Match { get; }

    public IReadOnlyList<PriceEntry> Prices { get; }

    public string? Name { get; init; }

    public string? Description { get; init; }

    public long? ContextWindow { get; init; }

    public bool Deprecated { get; init; }

    /// <summary>
    /// Why a loader rejected this entry (an <see cref="IssueSeverity.Error"/> issue). A rejected model still
    /// resolves, so that its names do not fall through to another model's prices, but prices as unpriced.
    /// </summary>
    public string? Rejected { get; init; }

    internal CatalogModel WithRejection(string reason) => new(Id, Match, Prices)
    {
        Name = Name,
        Description = Description,
        ContextWindow = ContextWindow,
        Deprecated = Deprecated,
        Mode = Mode,
        Rejected = reason,
    };

    /// <summary>LiteLLM `mode` (chat, embedding, ...) when imported from LiteLLM; null otherwise.</summary>
    public string? Mode { get; init; }

    /// <summary>
    /// The price table in force at <paramref name="at"/>, exactly as genai-prices 0.1.8 picks it: the entries are
    /// scanned from the LAST to the first; the first unconstrained entry, start date reached or time-of-day
    /// window containing <paramref name="at"/> wins; none → the first entry.
    /// </summary>
    public PriceEntry PriceAt(DateTimeOffset at)
    {
        IReadOnlyList<PriceEntry> prices = Prices;
        for (int i = prices.Count - 1; i >= 0; i--)
        {
            PriceEntry entry = prices[i];
            if (entry.Constraint is null || entry.Constraint.AppliesAt(at))
            {
                return entry;
            }
        }

        return prices[0];
    }

    public override string ToString() => Id;
}

/// <summary>A provider of the catalog and its models, in match order.</summary>
public sealed class CatalogProvider
{
    public CatalogProvider(string id, string name, IReadOnlyList<CatalogModel> models)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentNullException.ThrowIfNull(models);
        Id = id;
        Name = name;
        Models = models;
    }

    public string Id { get; }

    public string Name { get; }

    public IReadOnlyList<CatalogModel> Models { get; }

    public string? ApiPattern { get; init; }

    /// <summary>Matches provider names other than <see cref="Id"/> (e.g. "google-vertex").</summary>
    public MatchRule? ProviderMatch { get; init; }

    /// <summary>Infers this provider from a model name when the caller gives no provider.</summary>
    public MatchRule? ModelMatch { get; init; }

    /// <summary>Providers whose models this provider also serves (e.g. azure → openai), tried in order.</summary>
    public IReadOnlyList<string> FallbackModelProviders { get; init; } = [];

    public IReadOnlyList<string> PricingUrls { get; init; } = [];

    public override string ToString() => Id;
}
