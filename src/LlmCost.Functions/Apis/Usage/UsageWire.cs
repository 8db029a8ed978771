using System.Text.Json.Serialization;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using LlmCost.Core;

namespace LlmCost.Functions.Apis.Usage;

/// <summary>Wire shapes (snake_case via the host's JSON options; money as decimal strings).</summary>
internal static class UsageWire
{
    public sealed record RecordResult(
        string EventId, bool EventIdGenerated, bool Duplicate, bool Priced, string CostUsd, string? UnpricedReason);

    public sealed record RecordBatchResponse(IReadOnlyList<RecordResult> Results, int Recorded, int Duplicates);

    /// <param name="Units">Every usage unit with a non-zero total, by its canonical key (input_image_tokens, audio_seconds, ...).</param>
    /// <param name="ReportedCostEvents">Events that carried a provider-reported cost.</param>
    /// <param name="ReportedCostUsd">Their reported costs' sum (null when none).</param>
    /// <param name="ReportedCostDifferenceUsd">Reported − our cost over the PRICED ones (null when none).</param>
    public sealed record Totals(
        string CostUsd, long Events, long InputTokens, long OutputTokens, long UnpricedEvents, long ErrorEvents,
        long CacheReadTokens, long CacheWriteTokens, long ReasoningTokens, IReadOnlyDictionary<string, long> Units,
        long ReportedCostEvents, string? ReportedCostUsd, string? ReportedCostDifferenceUsd);

    public sealed record SeriesPoint(
        DateTimeOffset PeriodStart, string? Provider, string? Model, string CostUsd, long Events, long InputTokens,
        long OutputTokens, long UnpricedEvents, long ErrorEvents, IReadOnlyDictionary<string, long> Units,
        long ReportedCostEvents, string? ReportedCostUsd, string? ReportedCostDifferenceUsd);

    public sealed record UsageResponse(
        string Scope, string Id, string TenantId, DateTimeOffset From, DateTimeOffset To, string Granularity, string? GroupBy,
        Totals Total, IReadOnlyList<SeriesPoint> Series, ArchivedPart? Archived = null);

    /// <summary>The part of the range past raw retention: answered from <paramref name="Source"/>, without <paramref name="NotKept"/>.</summary>
    public sealed record ArchivedPart(DateTimeOffset From, DateTimeOffset To, string Source, IReadOnlyList<string> NotKept);

    public sealed record EventView(
        string EventId, string TenantId, string UserId, string? TeamId, string? App, string Provider, string Model,
        DateTimeOffset Timestamp, string Status, long? LatencyMs, IReadOnlyDictionary<string, string> Tags,
        UsageView Usage, string CostUsd, bool Priced, string? UnpricedReason, string? ReservationId, DateTimeOffset RecordedAt,
        string? ReportedCostUsd, string? ReportedCostDifferenceUsd);

    /// <param name="Units">Every usage unit with a non-zero count, by its canonical key; the named fields are the
    /// most common of them, kept for existing readers.</param>
    public sealed record UsageView(
        long InputTokens, long CacheReadTokens, long CacheWriteTokens,
        [property: JsonPropertyName("cache_write_1h_tokens")] long CacheWrite1hTokens, long InputAudioTokens,
        long CacheAudioReadTokens, long OutputTokens, long ReasoningTokens, long OutputAudioTokens, long WebSearches,
        IReadOnlyDictionary<string, long> Units);

    /// <param name="ArchivedBefore">Set when the range reaches days past raw retention: their events are archived, not listed.</param>
    public sealed record EventsResponse(IReadOnlyList<EventView> Events, string? ContinuationToken, DateTimeOffset? ArchivedBefore = null);

    /// <param name="KnownCostUsd">When unpriced only because some used classes have no price: the cost of the
    /// classes that do (a lower bound, never the cost).</param>
    /// <param name="Usage">The canonical units the call was priced from (after normalising raw_usage).</param>
    /// <param name="ReportedCostUsd">The provider-reported cost (reported_cost_usd, or read from raw_usage).</param>
    /// <param name="ReportedCostDifferenceUsd">Reported − our cost (when priced and reported).</param>
    public sealed record QuoteResponse(
        bool Priced, string CostUsd, string? ProviderId, string? ModelId, string? Reason, string? Source,
        IReadOnlyList<QuoteComponent> Breakdown, string? PriceVariant, IReadOnlyList<string> UnpricedClasses,
        string? KnownCostUsd, IReadOnlyDictionary<string, long> Usage, string? ReportedCostUsd, string? ReportedCostDifferenceUsd);

    public sealed record QuoteComponent(string Class, long Quantity, string UnitPriceUsd, string CostUsd);

    public static string Money(decimal value) => MoneyFormat.Format(value);

    public static RecordResult From(RecordOutcome o) =>
        new(o.EventId, o.EventIdGenerated, o.Duplicate, o.Priced, Money(o.CostUsd), o.UnpricedReason);

    public static Totals From(UsageTotals t) =>
        new(Money(t.CostUsd), t.Events, t.InputTokens, t.OutputTokens, t.UnpricedEvents, t.ErrorEvents,
            t.CacheReadTokens, t.CacheWriteTokens, t.ReasoningTokens, t.Units.ToDictionary(),
            t.ReportedCostEvents, Reported(t.ReportedCostEvents, t.ReportedCostUsd), Reported(t.ReportedCostEvents, t.ReportedCostDifferenceUsd));

    public static SeriesPoint From(UsageSeriesPoint p) =>
        new(p.PeriodStart, p.Provider, p.Model, Money(p.Totals.CostUsd), p.Totals.Events, p.Totals.InputTokens,
            p.Totals.OutputTokens, p.Totals.UnpricedEvents, p.Totals.ErrorEvents, p.Totals.Units.ToDictionary(),
            p.Totals.ReportedCostEvents, Reported(p.Totals.ReportedCostEvents, p.Totals.ReportedCostUsd),
            Reported(p.Totals.ReportedCostEvents, p.Totals.ReportedCostDifferenceUsd));

    private static string? Reported(long events, decimal value) => events == 0 ? null : Money(value);

    private static string? Money(decimal? value) => value is { } v ? Money(v) : null;

    public static EventView From(UsageEvent e) => new(
        e.EventId, e.TenantId, e.UserId, e.TeamId, e.App, e.Provider, e.Model, e.Timestamp, e.Status, e.LatencyMs, e.Tags,
        new UsageView(e.Usage.InputTokens, e.Usage.CacheReadTokens, e.Usage.CacheWriteTokens, e.Usage.CacheWrite1hTokens,
            e.Usage.InputAudioTokens, e.Usage.CacheAudioReadTokens, e.Usage.OutputTokens, e.Usage.ReasoningTokens,
            e.Usage.OutputAudioTokens, e.Usage.WebSearches, UnitsOf(e.Usage)),
        Money(e.CostUsd), e.Priced, e.UnpricedReason, e.ReservationId, e.RecordedAt,
        Money(e.ReportedCostUsd), Money(e.ReportedCostDifferenceUsd));

    public static QuoteResponse From(PriceQuote q, CanonicalUsage usage, decimal? reportedCostUsd) => new(
        q.Priced, Money(q.CostUsd), q.ProviderId, q.ModelId, q.Reason, q.Source,
        q.Breakdown.Select(c => new QuoteComponent(c.Class, c.Quantity, Money(c.UnitPriceUsd), Money(c.CostUsd))).ToList(),
        q.PriceVariant, q.UnpricedClasses, q.UnpricedClasses.Count > 0 ? Money(q.KnownCostUsd) : null, UnitsOf(usage),
        Money(reportedCostUsd), q.Priced && reportedCostUsd is { } reported ? Money(reported - q.CostUsd) : null);

    /// <summary>The non-zero units (one request per call is implied, so requests only when it is not 1).</summary>
    private static IReadOnlyDictionary<string, long> UnitsOf(CanonicalUsage usage)
    {
        var units = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach ((UsageUnit unit, long count) in usage.Units)
        {
            if (unit.UsageKey != "requests" || count != 1)
            {
                units[unit.UsageKey] = count;
            }
        }

        return units;
    }
}
