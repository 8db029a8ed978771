using System.Globalization;
using LlmCost.Core.Advice;
using LlmCost.Core.Budgets;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace LlmCost.Core.Tests.Advice;

/// <summary>
/// The Azure LLM inference trace 2023 (CC-BY 4.0, Patel et al., "Splitwise", ISCA 2024; vendored in TraceData/)
/// replayed in-process through <see cref="UsageRecorder"/> (priced as the service prices a POST /api/usage) with a
/// known model mix, then read back through <see cref="UsageEventAdviceSource"/>.
/// <list type="bullet">
/// <item>The trace hour is moved to 2026-11-16 (same time of day), so it is recent traffic under today's prices.</item>
/// <item>Row i of the conversation file calls MixConversation[i mod 3]; every code row calls openai:gpt-4o-mini as
/// app "code-batch", which the tenant declares non-interactive; user = "user-(i mod 40)", team = "red" for even
/// users, "blue" for odd ones.</item>
/// <item>ContextTokens are uncached input, GeneratedTokens output (as `llmcost replay` does).</item>
/// <item>The tenant has a 10% negotiated discount and limits advice to the provider it already calls.</item>
/// </list>
/// </summary>
public sealed class RecommendationTraceTests(ITestOutputHelper output)
{
    private const string Tenant = "acme";
    private static readonly (string Provider, string Model)[] MixConversation =
    [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-opus-4-1-20250805"),
        ("google", "gemini-2.5-pro"),
    ];

    private const string Policy = """{"tenants": {"acme": {"discount_percent": 10}}}""";

    private const string Settings = """
        {"tenants": {"acme": {
          "non_interactive": {"apps": ["code-batch"]},
          "quality": {
            "openai:gpt-4o": 70, "openai:gpt-6-luna": 72, "openai:gpt-6-sol": 85, "openai:gpt-4.1-nano": 45, "openai:gpt-4o-mini": 55,
            "anthropic:claude-opus-4-1": 80, "anthropic:claude-haiku-4-5": 80, "anthropic:claude-sonnet-4-5": 85, "anthropic:claude-opus-4-5": 92,
            "google:gemini-2.5-pro": 75, "google:gemini-3.1-flash-lite": 78, "google:gemini-3.5-flash-lite": 80
          }}}}
        """;

    private static readonly DateTimeOffset From = new(2026, 11, 16, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2026, 11, 17, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Recommendations_name_cheaper_models_and_savings_equal_repricing_the_recorded_usage()
    {
        ModelSelector selector = AdviceFixture.Selector(Settings, Policy);
        List<UsageEvent> events = Replay(selector.Engine);
        Assert.Equal(8_819 + 19_366, events.Count);

        var service = new RecommendationService(selector, new UsageEventAdviceSource(new InMemoryEventReader(events)));
        Validated<RecommendationReport> answer = await service.RecommendAsync(new RecommendationRequest { TenantId = Tenant, From = From, To = To });
        Assert.True(answer.IsValid);
        RecommendationReport report = answer.Value!;
        foreach (Recommendation r in report.Recommendations)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Kind} {r.Provider}/{r.Model} -> {r.SuggestedProvider}/{r.SuggestedModel}: current {r.CurrentCostUsd} projected {r.ProjectedCostUsd} savings {r.SavingsUsd} estimate={r.Evidence.Estimate} | {r.Evidence.Summary}"));
        }

        Assert.Equal(events.Count, report.Requests);
        Assert.Equal(0, report.UnpricedRequests);

        // Hand-decided from the tenant's quality scores (a suggestion must score at least the current model) and
        // list prices per million tokens (input / output), same provider only:
        //   gpt-4o (70; $2.50 / $10): gpt-6-luna (72; $0.10 / $0.50) is the cheapest scoring >= 70 (gpt-4.1-nano scores 45).
        //   claude-opus-4-1 (80; $15 / $75): claude-haiku-4-5 (80; $1 / $5).
        //   gemini-2.5-pro (75; $1.25 / $10): gemini-3.1-flash-lite (78; $0.25 / $1.50).
        //   gpt-4o-mini (55; $0.15 / $0.60): gpt-6-luna (72; $0.10 / $0.50).
        var expected = new Dictionary<string, string>
        {
            ["gpt-4o"] = "gpt-6-luna",
            ["claude-opus-4-1-20250805"] = "claude-haiku-4-5",
            ["gemini-2.5-pro"] = "gemini-3.1-flash-lite",
            ["gpt-4o-mini"] = "gpt-6-luna",
        };
        List<Recommendation> cheaper = [.. report.Recommendations.Where(r => r.Kind == RecommendationKinds.CheaperModel)];
        Assert.Equal(expected.Count, cheaper.Count);
        foreach (Recommendation r in cheaper)
        {
            Assert.Equal(expected[r.Model], r.SuggestedModel);
            Assert.Equal(r.Provider, r.SuggestedProvider);
            Assert.True(r.Evidence.QualityCompared);

            // Independently: the recorded cost of that model's events, and the same usage priced as a call of the
            // suggested model at each event's timestamp under the tenant's policy.
            List<UsageEvent> mine = [.. events.Where(e => e.Model == r.Model)];
            decimal recorded = mine.Sum(e => e.CostUsd);
            decimal repriced = mine.Sum(e => selector.Engine.Price(new PriceRequest(r.SuggestedProvider, r.SuggestedModel!, e.Timestamp, e.Usage, Tenant)).CostUsd);
            Assert.Equal(recorded, r.CurrentCostUsd);
            Assert.Equal(repriced, r.ProjectedCostUsd);
            Assert.Equal(recorded - repriced, r.SavingsUsd);
            Assert.True(r.SavingsUsd > 0);
            Assert.Equal(mine.Count, r.Evidence.Requests);
        }

        // gpt-4o is itself deprecated (shutdown 2027-01-14): the evidence says so.
        Assert.Equal("deprecated", cheaper.Single(r => r.Model == "gpt-4o").Evidence.CurrentModelStatus);

        // The code rows are non-interactive: the provider's published batch discount, stated as an estimate.
        Recommendation batch = Assert.Single(report.Recommendations, r => r.Kind == RecommendationKinds.BatchOrOffPeak);
        Assert.Equal("gpt-4o-mini", batch.Model);
        Assert.True(batch.Evidence.Estimate);
        decimal codeCost = events.Where(e => e.App == "code-batch").Sum(e => e.CostUsd);
        Assert.Equal(codeCost, batch.CurrentCostUsd);
        Assert.Equal(codeCost * 0.5m, batch.SavingsUsd);
        Assert.Equal(8_819, batch.Evidence.AffectedRequests);

        // Long prompts and no cache reads at all: caching estimates, flagged as estimates with their assumptions.
        List<Recommendation> caching = [.. report.Recommendations.Where(r => r.Kind == RecommendationKinds.PromptCaching)];
        Assert.NotEmpty(caching);
        Assert.All(caching, r =>
        {
            Assert.True(r.Evidence.Estimate);
            Assert.NotEmpty(r.Evidence.Assumptions);
            Assert.Equal(r.CurrentCostUsd - r.SavingsUsd, r.ProjectedCostUsd);
        });

        // Largest saving first.
        Assert.Equal(report.Recommendations.OrderByDescending(r => r.SavingsUsd).Select(r => r.SavingsUsd), report.Recommendations.Select(r => r.SavingsUsd));
    }

    [Fact]
    public async Task Without_quality_scores_the_cheapest_capable_model_is_suggested_and_says_quality_was_not_compared()
    {
        ModelSelector selector = AdviceFixture.Selector(null, Policy);
        List<UsageEvent> events = Replay(selector.Engine);
        var service = new RecommendationService(selector, new UsageEventAdviceSource(new InMemoryEventReader(events)));
        RecommendationReport report = (await service.RecommendAsync(new RecommendationRequest
        {
            TenantId = Tenant, From = From, To = To, Scope = RecommendationScopes.Team, Kinds = [RecommendationKinds.CheaperModel],
        })).Value!;

        // Per team: red and blue each get one recommendation per model they used.
        Assert.Equal(["blue", "red"], report.Recommendations.Select(r => r.ScopeId).Distinct().Order(StringComparer.Ordinal));
        Recommendation opusRed = report.Recommendations.Single(r => r.ScopeId == "red" && r.Model == "claude-opus-4-1-20250805");
        Assert.False(opusRed.Evidence.QualityCompared);
        Assert.Contains(opusRed.Evidence.Assumptions, a => a.Contains("not compared", StringComparison.Ordinal));
        // Capabilities alone: claude-3-haiku ($0.25 / $1.25: image input, tools, 200k window; the traffic has no
        // reasoning tokens, so reasoning is not required) is the cheapest current Anthropic match, and
        // claude-haiku-4-5 ($1 / $5) is the next one. This is why tenants should give quality scores.
        Assert.Equal("claude-3-haiku", opusRed.SuggestedModel);
        Assert.Equal("claude-haiku-4-5", opusRed.Evidence.Alternatives![0].Model);
        List<UsageEvent> red = [.. events.Where(e => e.TeamId == "red" && e.Model == "claude-opus-4-1-20250805")];
        Assert.Equal(red.Sum(e => e.CostUsd) - red.Sum(e => selector.Engine.Price(new PriceRequest("anthropic", "claude-3-haiku", e.Timestamp, e.Usage, Tenant)).CostUsd),
            opusRed.SavingsUsd);
        Assert.Equal(red.Sum(e => e.CostUsd) - red.Sum(e => selector.Engine.Price(new PriceRequest("anthropic", "claude-haiku-4-5", e.Timestamp, e.Usage, Tenant)).CostUsd),
            opusRed.Evidence.Alternatives[0].SavingsUsd);
        Assert.All(report.Recommendations, r => Assert.Equal(RecommendationKinds.CheaperModel, r.Kind));
    }

    private static List<UsageEvent> Replay(PricingEngine engine)
    {
        var recorder = new UsageRecorder(engine, new NoStore(), new FakeTimeProvider(AdviceFixture.Now));
        var events = new List<UsageEvent>();
        string folder = Path.Combine(AppContext.BaseDirectory, "Operations", "TraceData");
        foreach ((string file, bool conversation) in new[] { ("AzureLLMInferenceTrace_code.csv", false), ("AzureLLMInferenceTrace_conv.csv", true) })
        {
            int row = 0;
            foreach (string line in File.ReadLines(Path.Combine(folder, file)).Skip(1))
            {
                string[] parts = line.Split(',');
                DateTimeOffset original = DateTimeOffset.Parse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
                DateTimeOffset timestamp = original.AddDays((From.Date - original.UtcDateTime.Date).TotalDays);
                (string provider, string model) = conversation ? MixConversation[row % MixConversation.Length] : ("openai", "gpt-4o-mini");
                int user = row % 40;
                var submission = new UsageSubmission
                {
                    EventId = $"{(conversation ? "conv" : "code")}-{row}",
                    UserId = $"user-{user}",
                    TeamId = user % 2 == 0 ? "red" : "blue",
                    App = conversation ? "chat" : "code-batch",
                    Provider = provider,
                    Model = model,
                    Timestamp = timestamp,
                    Usage = new CanonicalUsage
                    {
                        InputTokens = long.Parse(parts[1], CultureInfo.InvariantCulture),
                        OutputTokens = long.Parse(parts[2], CultureInfo.InvariantCulture),
                    },
                };
                UsageEvent e = recorder.ToEvent(submission, Tenant, timestamp);
                Assert.True(e.Priced, e.UnpricedReason);
                events.Add(e);
                row++;
            }
        }

        return events;
    }

    /// <summary>Only <see cref="UsageRecorder.ToEvent"/> is used (pricing as the service does); nothing is stored here.</summary>
    private sealed class NoStore : IUsageEventStore
    {
        public Task<IReadOnlyList<RecordOutcome>> RecordAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();
    }
}
