using System.Text.Json;
using System.Text.Json.Serialization;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using LlmCost.Core;

namespace LlmCost.Functions.Apis.Recording;

/// <summary>Wire shapes (snake_case via the host's JSON options; money as decimal strings).</summary>
internal static class UsageWire
{
    /// <summary>
    /// One usage event as <c>POST /api/usage</c> and <c>POST /api/price</c> take it. The endpoints read the raw JSON
    /// (to name every bad field and refuse unknown canonical keys), so this record documents the shape, it does not
    /// bind it. A batch is <c>{"events":[ ... ]}</c> with 1 to MaxEventsPerRequest of these.
    /// </summary>
    /// <param name="Usage">Canonical units by key (input_tokens, cache_read_tokens, output_tokens, reasoning_tokens,
    /// ... any of the genai-prices lattice); parents include their children. Give this or <paramref name="RawUsage"/>.</param>
    /// <param name="RawUsage">The provider's own usage object or whole response body (OpenAI, Anthropic, Gemini, Bedrock, ...).</param>
    /// <param name="ReportedCostUsd">The provider's or a gateway's own cost, a decimal string.</param>
    public sealed record UsageEventBody(
        string? EventId, string? TenantId, string UserId, string? TeamId, string? App, string? Provider, string Model,
        DateTimeOffset? Timestamp, IReadOnlyDictionary<string, long>? Usage, JsonElement? RawUsage, long? LatencyMs, string? Status,
        IReadOnlyDictionary<string, string>? Tags, string? ReservationId, string? ReportedCostUsd, string? KeyId);

    /// <param name="ListCostUsd">The cost at catalog list prices (null for a duplicate).</param>
    /// <param name="PriceSource">Which catalog and tenant rule priced the call (null for a duplicate).</param>
    /// <param name="PolicyVersion">The tenant policy version applied; null = list prices.</param>
    /// <param name="CatalogVersion">The catalog version that priced the call.</param>
    public sealed record RecordResult(
        string EventId, bool EventIdGenerated, bool Duplicate, bool Priced, string CostUsd, string? UnpricedReason,
        string? ListCostUsd = null, string? PriceSource = null, int? PolicyVersion = null, string? CatalogVersion = null);

    public sealed record RecordBatchResponse(IReadOnlyList<RecordResult> Results, int Recorded, int Duplicates);

    /// <param name="Units">Every usage unit with a non-zero total, by its canonical key (input_image_tokens, audio_seconds, ...).</param>
    /// <param name="ReportedCostEvents">Events that carried a provider-reported cost.</param>
    /// <param name="ReportedCostUsd">Their reported costs' sum (null when none).</param>
    /// <param name="ReportedCostDifferenceUsd">Reported − our cost over the PRICED ones (null when none).</param>
    public sealed record Totals(
        string CostUsd, long Events, long InputTokens, long OutputTokens, long UnpricedEvents, long ErrorEvents,
        long CacheReadTokens, long CacheWriteTokens, long ReasoningTokens, IReadOnlyDictionary<string, long> Units,
        long ReportedCostEvents, string? ReportedCostUsd, string? ReportedCostDifferenceUsd)
    {
        /// <summary>The cost in the requested <c>currency</c> (absent without one).</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Cost { get; init; }
    }

    public sealed record SeriesPoint(
        DateTimeOffset PeriodStart, string? Provider, string? Model, string CostUsd, long Events, long InputTokens,
        long OutputTokens, long UnpricedEvents, long ErrorEvents, IReadOnlyDictionary<string, long> Units,
        long ReportedCostEvents, string? ReportedCostUsd, string? ReportedCostDifferenceUsd)
    {
        /// <summary>The cost in the requested <c>currency</c> (absent without one).</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Cost { get; init; }
    }

    public sealed record UsageResponse(
        string Scope, string Id, string TenantId, DateTimeOffset From, DateTimeOffset To, string Granularity, string? GroupBy,
        Totals Total, IReadOnlyList<SeriesPoint> Series, ArchivedPart? Archived = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Pricing.CurrencyQuery.CurrencyWire? Currency = null);

    /// <summary>The part of the range past raw retention: answered from <paramref name="Source"/>, without <paramref name="NotKept"/>.</summary>
    public sealed record ArchivedPart(DateTimeOffset From, DateTimeOffset To, string Source, IReadOnlyList<string> NotKept);

    public sealed record EventView(
        string EventId, string TenantId, string UserId, string? TeamId, string? App, string Provider, string Model,
        DateTimeOffset Timestamp, string Status, long? LatencyMs, IReadOnlyDictionary<string, string> Tags,
        UsageView Usage, string CostUsd, bool Priced, string? UnpricedReason, string? ReservationId, DateTimeOffset RecordedAt,
        string? ReportedCostUsd, string? ReportedCostDifferenceUsd,
        string ListCostUsd, string? PriceSource, int? PolicyVersion, string? CatalogVersion);

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
        string? KnownCostUsd, IReadOnlyDictionary<string, long> Usage, string? ReportedCostUsd, string? ReportedCostDifferenceUsd,
        string ListCostUsd, int? PolicyVersion, string? CatalogVersion);

    public sealed record QuoteComponent(string Class, long Quantity, string UnitPriceUsd, string CostUsd);

    public static string Money(decimal value) => MoneyFormat.Format(value);

    public static RecordResult From(RecordOutcome o) =>
        new(o.EventId, o.EventIdGenerated, o.Duplicate, o.Priced, Money(o.CostUsd), o.UnpricedReason,
            o.Recorded is { } e ? Money(e.ListCostUsd) : null, o.Recorded?.PriceSource, o.Recorded?.PolicyVersion, o.Recorded?.CatalogVersion);

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
        Money(e.ReportedCostUsd), Money(e.ReportedCostDifferenceUsd),
        Money(e.ListCostUsd), e.PriceSource, e.PolicyVersion, e.CatalogVersion);

    public static QuoteResponse From(PriceQuote q, CanonicalUsage usage, decimal? reportedCostUsd) => new(
        q.Priced, Money(q.CostUsd), q.ProviderId, q.ModelId, q.Reason, q.Source,
        q.Breakdown.Select(c => new QuoteComponent(c.Class, c.Quantity, Money(c.UnitPriceUsd), Money(c.CostUsd))).ToList(),
        q.PriceVariant, q.UnpricedClasses, q.UnpricedClasses.Count > 0 ? Money(q.KnownCostUsd) : null, UnitsOf(usage),
        Money(reportedCostUsd), q.Priced && reportedCostUsd is { } reported ? Money(reported - q.CostUsd) : null,
        Money(q.Priced ? q.ListCostUsd : 0m), q.PolicyVersion, q.CatalogVersion);

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
