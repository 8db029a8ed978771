using LlmCost.Core.Advice;
using LlmCost.Core.Budgets;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Core.Tests.Advice;

/// <summary>Each recommendation rule on small hand-checked traffic (list prices of genai-prices 0.1.8, USD per million tokens).</summary>
public sealed class RecommendationRuleTests
{
    private const string Tenant = "acme";
    private static readonly DateTimeOffset Day = new(2026, 11, 16, 0, 0, 0, TimeSpan.Zero);

    internal static UsageEvent Event(PricingEngine engine, string id, string provider, string model, DateTimeOffset at, CanonicalUsage usage,
        string? team = null, string? app = null, IReadOnlyDictionary<string, string>? tags = null, string? reservation = null)
    {
        var recorder = new UsageRecorder(engine, new NoStore(), new FakeTimeProvider(AdviceFixture.Now));
        return recorder.ToEvent(new UsageSubmission
        {
            EventId = id,
            UserId = "u1",
            TeamId = team,
            App = app,
            Provider = provider,
            Model = model,
            Timestamp = at,
            Usage = usage,
            Tags = tags ?? new Dictionary<string, string>(),
            ReservationId = reservation,
        }, Tenant, at);
    }

    private static async Task<RecommendationReport> Recommend(ModelSelector selector, IEnumerable<UsageEvent> events, params string[] kinds)
    {
        var service = new RecommendationService(selector, new UsageEventAdviceSource(new InMemoryEventReader(events)));
        Validated<RecommendationReport> result = await service.RecommendAsync(new RecommendationRequest
        {
            TenantId = Tenant, From = Day, To = Day.AddDays(1), Kinds = kinds,
        });
        Assert.True(result.IsValid);
        return result.Value!;
    }

    /// <summary>
    /// gemini-2.5-pro charges $1.25 / $10 up to 200,000 input tokens and $2.50 / $15 above. 210,000 in + 1,000 out costs
    /// 0.525 + 0.015 = 0.54; trimmed to 200,000 it would cost 0.25 + 0.01 = 0.26: saving 0.28. 230,000 (more than 10%
    /// above) and 150,000 (below) are not "just above".
    /// </summary>
    [Fact]
    public async Task Long_context_tier_flags_requests_just_above_the_threshold()
    {
        ModelSelector selector = AdviceFixture.Selector();
        UsageEvent[] events =
        [
            Event(selector.Engine, "a", "google", "gemini-2.5-pro", Day.AddHours(1), new CanonicalUsage { InputTokens = 210_000, OutputTokens = 1_000 }),
            Event(selector.Engine, "b", "google", "gemini-2.5-pro", Day.AddHours(2), new CanonicalUsage { InputTokens = 230_000, OutputTokens = 1_000 }),
            Event(selector.Engine, "c", "google", "gemini-2.5-pro", Day.AddHours(3), new CanonicalUsage { InputTokens = 150_000, OutputTokens = 1_000 }),
        ];
        Recommendation r = Assert.Single((await Recommend(selector, events, RecommendationKinds.LongContextTier)).Recommendations);
        Assert.Equal(0.54m, r.CurrentCostUsd);
        Assert.Equal(0.28m, r.SavingsUsd);
        Assert.Equal(0.26m, r.ProjectedCostUsd);
        Assert.Equal(200_000, r.Evidence.ThresholdTokens);
        Assert.Equal(1, r.Evidence.AffectedRequests);
        Assert.True(r.Evidence.Estimate);
    }

    /// <summary>
    /// deepseek-chat: $0.27 / $1.10 from 00:30 to 16:30 UTC, $0.135 / $0.55 otherwise. A non-interactive call of 1M in + 1M out at
    /// 10:00 costs 1.37 and would cost 0.685 off-peak (saving 0.685); one at 20:00 already ran off-peak (0.685, no saving); an
    /// interactive call is not considered.
    /// </summary>
    [Fact]
    public async Task Off_peak_window_is_suggested_for_non_interactive_traffic_and_repriced_exactly()
    {
        ModelSelector selector = AdviceFixture.Selector();
        var million = new CanonicalUsage { InputTokens = 1_000_000, OutputTokens = 1_000_000 };
        var batch = new Dictionary<string, string> { ["interactive"] = "false" };
        UsageEvent[] events =
        [
            Event(selector.Engine, "a", "deepseek", "deepseek-chat", Day.AddHours(10), million, tags: batch),
            Event(selector.Engine, "b", "deepseek", "deepseek-chat", Day.AddHours(20), million, tags: batch),
            Event(selector.Engine, "c", "deepseek", "deepseek-chat", Day.AddHours(11), million),
        ];
        Assert.Equal(1.37m, events[0].CostUsd);

        Recommendation r = Assert.Single((await Recommend(selector, events, RecommendationKinds.BatchOrOffPeak)).Recommendations);
        Assert.Equal(2.055m, r.CurrentCostUsd);
        Assert.Equal(0.685m, r.SavingsUsd);
        Assert.Equal(1.37m, r.ProjectedCostUsd);
        Assert.Equal(2, r.Evidence.AffectedRequests);
        Assert.False(r.Evidence.Estimate);
        Assert.Equal("outside 00:30:00Z-16:30:00Z", r.Evidence.Window);
        Assert.Equal("tag interactive=false", r.Evidence.NonInteractiveBy);
    }

    /// <summary>
    /// o4-mini ($1.10 / $4.40): 1,000 in, 10,000 out of which 8,000 reasoning. Output cost 0.044, reasoning 8,000 × 4.4 / 1e6 =
    /// 0.0352 (80%). Halving the reasoning tokens: 1,000 in + 6,000 out = 0.0011 + 0.0264 = 0.0275, saving 0.0176 on 0.0451.
    /// </summary>
    [Fact]
    public async Task Reasoning_share_is_the_reasoning_part_of_output_cost()
    {
        ModelSelector selector = AdviceFixture.Selector();
        UsageEvent e = Event(selector.Engine, "a", "openai", "o4-mini", Day.AddHours(1),
            new CanonicalUsage { InputTokens = 1_000, OutputTokens = 10_000, ReasoningTokens = 8_000 });
        Recommendation r = Assert.Single((await Recommend(selector, [e], RecommendationKinds.ReasoningShare)).Recommendations);
        Assert.Equal(0.0451m, r.CurrentCostUsd);
        Assert.Equal(0.0352m, r.Evidence.ReasoningCostUsd);
        Assert.Equal(0.8m, r.Evidence.ReasoningShare);
        Assert.Equal(0.0176m, r.SavingsUsd);
        Assert.Equal(0.0275m, r.ProjectedCostUsd);
        Assert.True(r.Evidence.Estimate);
    }

    /// <summary>
    /// gpt-4.1 ($2 in, $0.50 cache read, $8 out; no cache-write price): ten calls of 10,000 in + 100 out, 0.0208 each (0.208).
    /// Assumed: half of each prompt repeats; one call in ten writes (free here), the nine others read 5,000 tokens:
    /// 5,000 × (2 − 0.5) / 1e6 = 0.0075 each, 0.0675 in all.
    /// </summary>
    [Fact]
    public async Task Prompt_caching_estimate_reprices_the_assumed_split()
    {
        ModelSelector selector = AdviceFixture.Selector();
        UsageEvent[] events = [.. Enumerable.Range(0, 10).Select(i =>
            Event(selector.Engine, $"e{i}", "openai", "gpt-4.1", Day.AddMinutes(i), new CanonicalUsage { InputTokens = 10_000, OutputTokens = 100 }))];
        Recommendation r = Assert.Single((await Recommend(selector, events, RecommendationKinds.PromptCaching)).Recommendations);
        Assert.Equal(0.208m, r.CurrentCostUsd);
        Assert.Equal(0.0675m, r.SavingsUsd);
        Assert.Equal(0.1405m, r.ProjectedCostUsd);
        Assert.True(r.Evidence.Estimate);
        Assert.Equal(3, r.Evidence.Assumptions.Count);

        // Nine calls are too few to call the prompts repeated; one cache read anywhere shows caching is in use.
        Assert.Empty((await Recommend(selector, events.Take(9), RecommendationKinds.PromptCaching)).Recommendations);
        UsageEvent cached = Event(selector.Engine, "c", "openai", "gpt-4.1", Day.AddHours(5), new CanonicalUsage { InputTokens = 10_000, CacheReadTokens = 4_000, OutputTokens = 100 });
        Assert.Empty((await Recommend(selector, [.. events, cached], RecommendationKinds.PromptCaching)).Recommendations);
    }

    [Fact]
    public async Task Events_outside_the_period_or_scope_and_unpriced_events_are_left_out()
    {
        ModelSelector selector = AdviceFixture.Selector();
        var usage = new CanonicalUsage { InputTokens = 1_000, OutputTokens = 10_000, ReasoningTokens = 8_000 };
        UsageEvent[] events =
        [
            Event(selector.Engine, "in", "openai", "o4-mini", Day, usage, team: "red"),
            Event(selector.Engine, "before", "openai", "o4-mini", Day.AddTicks(-1), usage, team: "red"),
            Event(selector.Engine, "after", "openai", "o4-mini", Day.AddDays(1), usage, team: "red"),
            Event(selector.Engine, "other-team", "openai", "o4-mini", Day.AddHours(1), usage, team: "blue"),
            Event(selector.Engine, "unknown", "openai", "no-such-model", Day.AddHours(1), usage, team: "red"),
        ];
        var service = new RecommendationService(selector, new UsageEventAdviceSource(new InMemoryEventReader(events)));
        RecommendationReport report = (await service.RecommendAsync(new RecommendationRequest
        {
            TenantId = Tenant, From = Day, To = Day.AddDays(1), Scope = RecommendationScopes.Team, ScopeId = "red", Kinds = [RecommendationKinds.ReasoningShare],
        })).Value!;
        Assert.Equal(2, report.Requests);
        Assert.Equal(1, report.UnpricedRequests);
        Recommendation r = Assert.Single(report.Recommendations);
        Assert.Equal(("team", "red"), (r.Scope, r.ScopeId));
        Assert.Equal(1, r.Evidence.Requests);
    }

    [Fact]
    public async Task Invalid_requests_name_the_field()
    {
        var service = new RecommendationService(AdviceFixture.Selector(), new UsageEventAdviceSource(new InMemoryEventReader([])));
        Validated<RecommendationReport> result = await service.RecommendAsync(new RecommendationRequest
        {
            TenantId = Tenant, From = Day, To = Day, Scope = "planet", Kinds = ["cheaper_model", "free_lunch"],
        });
        Assert.Equal(["kinds[1]", "scope", "to"], result.Errors.Keys.Order(StringComparer.Ordinal));
        Validated<RecommendationReport> tooLong = await service.RecommendAsync(new RecommendationRequest { TenantId = Tenant, From = Day, To = Day.AddDays(401) });
        Assert.Equal(["from"], tooLong.Errors.Keys);
    }

    private sealed class NoStore : IUsageEventStore
    {
        public Task<IReadOnlyList<RecordOutcome>> RecordAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();
    }
}
