using System.Text.Json.Serialization;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;

namespace LlmCost.Functions.Apis.Usage;

/// <summary>Wire shapes (snake_case via the host's JSON options; money as decimal strings).</summary>
internal static class UsageWire
{
    public sealed record RecordResult(
        string EventId, bool EventIdGenerated, bool Duplicate, bool Priced, string CostUsd, string? UnpricedReason);

    public sealed record RecordBatchResponse(IReadOnlyList<RecordResult> Results, int Recorded, int Duplicates);

    public sealed record Totals(
        string CostUsd, long Events, long InputTokens, long OutputTokens, long UnpricedEvents, long ErrorEvents,
        long CacheReadTokens, long CacheWriteTokens, long ReasoningTokens);

    public sealed record SeriesPoint(
        DateTimeOffset PeriodStart, string? Provider, string? Model, string CostUsd, long Events, long InputTokens,
        long OutputTokens, long UnpricedEvents, long ErrorEvents);

    public sealed record UsageResponse(
        string Scope, string Id, string TenantId, DateTimeOffset From, DateTimeOffset To, string Granularity, string? GroupBy,
        Totals Total, IReadOnlyList<SeriesPoint> Series, ArchivedPart? Archived = null);

    /// <summary>The part of the range past raw retention: answered from <paramref name="Source"/>, without <paramref name="NotKept"/>.</summary>
    public sealed record ArchivedPart(DateTimeOffset From, DateTimeOffset To, string Source, IReadOnlyList<string> NotKept);

    public sealed record EventView(
        string EventId, string TenantId, string UserId, string? TeamId, string? App, string Provider, string Model,
        DateTimeOffset Timestamp, string Status, long? LatencyMs, IReadOnlyDictionary<string, string> Tags,
        UsageView Usage, string CostUsd, bool Priced, string? UnpricedReason, string? ReservationId, DateTimeOffset RecordedAt);

    public sealed record UsageView(
        long InputTokens, long CacheReadTokens, long CacheWriteTokens,
        [property: JsonPropertyName("cache_write_1h_tokens")] long CacheWrite1hTokens, long InputAudioTokens,
        long CacheAudioReadTokens, long OutputTokens, long ReasoningTokens, long OutputAudioTokens, long WebSearches);

    /// <param name="ArchivedBefore">Set when the range reaches days past raw retention: their events are archived, not listed.</param>
    public sealed record EventsResponse(IReadOnlyList<EventView> Events, string? ContinuationToken, DateTimeOffset? ArchivedBefore = null);

    public sealed record QuoteResponse(
        bool Priced, string CostUsd, string? ProviderId, string? ModelId, string? Reason, string? Source,
        IReadOnlyList<QuoteComponent> Breakdown);

    public sealed record QuoteComponent(string Class, long Quantity, string UnitPriceUsd, string CostUsd);

    public static string Money(decimal value) => UsageQuery.FormatCost(value);

    public static RecordResult From(RecordOutcome o) =>
        new(o.EventId, o.EventIdGenerated, o.Duplicate, o.Priced, Money(o.CostUsd), o.UnpricedReason);

    public static Totals From(UsageTotals t) =>
        new(Money(t.CostUsd), t.Events, t.InputTokens, t.OutputTokens, t.UnpricedEvents, t.ErrorEvents,
            t.CacheReadTokens, t.CacheWriteTokens, t.ReasoningTokens);

    public static SeriesPoint From(UsageSeriesPoint p) =>
        new(p.PeriodStart, p.Provider, p.Model, Money(p.Totals.CostUsd), p.Totals.Events, p.Totals.InputTokens,
            p.Totals.OutputTokens, p.Totals.UnpricedEvents, p.Totals.ErrorEvents);

    public static EventView From(UsageEvent e) => new(
        e.EventId, e.TenantId, e.UserId, e.TeamId, e.App, e.Provider, e.Model, e.Timestamp, e.Status, e.LatencyMs, e.Tags,
        new UsageView(e.Usage.InputTokens, e.Usage.CacheReadTokens, e.Usage.CacheWriteTokens, e.Usage.CacheWrite1hTokens,
            e.Usage.InputAudioTokens, e.Usage.CacheAudioReadTokens, e.Usage.OutputTokens, e.Usage.ReasoningTokens,
            e.Usage.OutputAudioTokens, e.Usage.WebSearches),
        Money(e.CostUsd), e.Priced, e.UnpricedReason, e.ReservationId, e.RecordedAt);

    public static QuoteResponse From(PriceQuote q) => new(
        q.Priced, Money(q.CostUsd), q.ProviderId, q.ModelId, q.Reason, q.Source,
        q.Breakdown.Select(c => new QuoteComponent(c.Class, c.Quantity, Money(c.UnitPriceUsd), Money(c.CostUsd))).ToList());
}
