using LlmCost.Core.Advice;
using LlmCost.Core.Alerts;
using LlmCost.Core.Budgets;

namespace LlmCost.Core.Tests.Advice;

public sealed class AdviceRunTests
{
    private static readonly DateTimeOffset From = new(2026, 11, 16, 0, 0, 0, TimeSpan.Zero);

    private static Recommendation Rec(string kind, string model, string? suggested, decimal current, decimal savings, bool estimate) =>
        new(kind, "tenant", "acme", "openai", model, "openai", suggested, current, current - savings, savings,
            new RecommendationEvidence { Summary = "s", Estimate = estimate });

    private static RecommendationReport Report(params Recommendation[] list) => new()
    {
        TenantId = "acme", From = From, To = From.AddDays(7), PriceSource = "p", CapabilitySource = "c", Recommendations = list,
    };

    [Fact]
    public void Digest_sums_exact_and_estimated_savings_apart_and_lists_the_largest_first()
    {
        Alert digest = RecommendationRunner.Digest(Report(
            Rec(RecommendationKinds.CheaperModel, "gpt-4o", "gpt-6-luna", 10.5m, 9.25m, estimate: false),
            Rec(RecommendationKinds.BatchOrOffPeak, "gpt-4o-mini", "gpt-4o-mini", 2m, 1m, estimate: true),
            Rec(RecommendationKinds.CheaperModel, "gpt-4.1", "gpt-6-luna", 0.3m, 0.125m, estimate: false)), From.AddDays(8))!;

        Assert.Equal(AlertKinds.AdviceDigest, digest.Kind);
        Assert.Equal("9.375", digest.Details["savings_exact_usd"]);
        Assert.Equal("1", digest.Details["savings_estimated_usd"]);
        Assert.Equal("3", digest.Details["recommendations"]);
        Assert.Equal("cheaper_model openai/gpt-4o -> openai/gpt-6-luna: save 9.25 USD of 10.5", digest.Details["top_1"]);
        // A same-model suggestion (batch) names no target; an estimate says so.
        Assert.Equal("batch_or_off_peak openai/gpt-4o-mini: save 1 USD of 2 (estimate)", digest.Details["top_2"]);
        // Stable per tenant and week, whenever it is raised.
        Assert.Equal(digest.AlertId, RecommendationRunner.Digest(Report(Rec(RecommendationKinds.CheaperModel, "x", "y", 1m, 1m, false)), From.AddDays(9))!.AlertId);
        Assert.NotEqual(digest.AlertId, RecommendationRunner.Digest(Report(Rec(RecommendationKinds.CheaperModel, "x", "y", 1m, 1m, false)) with { From = From.AddDays(7) }, From)!.AlertId);
    }

    [Fact]
    public void No_recommendations_no_digest() => Assert.Null(RecommendationRunner.Digest(Report(), From));

    [Theory]
    [InlineData(AuthorizationOutcome.Allow, null, BudgetDecisionOutcomes.Admitted)]
    [InlineData(AuthorizationOutcome.Allow, "b-soft", BudgetDecisionOutcomes.SoftOverrun)]
    [InlineData(AuthorizationOutcome.Downgrade, "b-adaptive", BudgetDecisionOutcomes.Downgraded)]
    [InlineData(AuthorizationOutcome.Deny, "b-hard", BudgetDecisionOutcomes.Denied)]
    public void A_decision_is_recorded_with_its_outcome(AuthorizationOutcome outcome, string? limiting, string expected)
    {
        var decision = new AuthorizationDecision
        {
            Outcome = outcome, LimitingBudgetId = limiting, ReservationId = outcome == AuthorizationOutcome.Deny ? null : "rsv_1",
            SuggestedProvider = "anthropic", SuggestedModel = "claude-haiku-4-5",
        };
        BudgetDecisionRecord record = BudgetDecisionRecord.Of("acme", "red", "alice", "req-1", "anthropic", "claude-opus-4-1", decision, From);
        Assert.Equal(expected, record.Outcome);
        Assert.Equal(outcome == AuthorizationOutcome.Downgrade ? "claude-haiku-4-5" : null, record.SuggestedModel);
        // The reservation id when there is one; else derived from the request id, so a retried denial is one row too.
        Assert.Equal(outcome == AuthorizationOutcome.Deny
            ? BudgetDecisionRecord.Of("acme", "red", "alice", "req-1", "anthropic", "claude-opus-4-1", decision, From.AddSeconds(5)).DecisionId
            : "rsv_1", record.DecisionId);
    }

    [Fact]
    public void Counts_add_up_by_outcome()
    {
        BudgetDecisionRecord R(string outcome) => new()
        {
            TenantId = "acme", DecisionId = Guid.NewGuid().ToString("N"), At = From, Outcome = outcome, Provider = "openai", Model = "gpt-4o",
        };
        BudgetDecisionCounts counts = BudgetDecisionRecord.Count([R("admitted"), R("admitted"), R("downgraded"), R("soft_overrun"), R("denied"), R("denied"), R("denied")]);
        Assert.Equal(new BudgetDecisionCounts(2, 1, 1, 3), counts);
    }
}
