using LlmCost.Core.Advice;
using LlmCost.Core.Budgets;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Tests.Advice;

public sealed class BusinessMetricsTests
{
    private const string Tenant = "acme";
    private static readonly DateTimeOffset Day = new(2026, 11, 16, 0, 0, 0, TimeSpan.Zero);

    private static (List<UsageEvent> Events, ModelSelector Selector) Traffic()
    {
        ModelSelector selector = AdviceFixture.Selector(policyJson: """{"tenants": {"acme": {"discount_percent": 10}}}""");
        List<UsageEvent> events =
        [
            RecommendationRuleTests.Event(selector.Engine, "e1", "openai", "gpt-4o", Day.AddHours(1),
                new CanonicalUsage { InputTokens = 1_200, CacheReadTokens = 200, OutputTokens = 300 }, team: "red", reservation: "r1"),
            RecommendationRuleTests.Event(selector.Engine, "e2", "anthropic", "claude-haiku-4-5", Day.AddHours(2),
                new CanonicalUsage { InputTokens = 1_000, OutputTokens = 1_000 }, team: "blue", reservation: "r2"),
            RecommendationRuleTests.Event(selector.Engine, "e3", "openai", "mystery-1", Day.AddHours(3),
                new CanonicalUsage { InputTokens = 1_000, OutputTokens = 1_000 }, team: "red"),
            RecommendationRuleTests.Event(selector.Engine, "e4", "openai", "gpt-4o", Day.AddHours(4),
                new CanonicalUsage { InputTokens = 1_000 }, team: "red"),
        ];
        return (events, selector);
    }

    /// <summary>
    /// Tenant discount 10%. e1 gpt-4o 1,200 in (200 cache reads) + 300 out: list 0.0025 + 0.00025 + 0.003 = 0.00575, paid
    /// 0.005175; without the cache 0.006 → 0.0054, so cache reads saved 0.000225; discount 0.000575. e2 claude-haiku-4-5 1,000 +
    /// 1,000: list 0.006, paid 0.0054 (discount 0.0006); it was a downgrade from claude-opus-4-1, which would have cost
    /// (0.015 + 0.075) × 0.9 = 0.081: saved 0.0756. e3 is unpriced. e4 gpt-4o 1,000 in: list 0.0025, paid 0.00225 (discount 0.00025).
    /// </summary>
    [Fact]
    public async Task Savings_averages_shares_and_adherence_are_hand_checked()
    {
        (List<UsageEvent> events, ModelSelector selector) = Traffic();
        var budgets = new FixedBudgetDecisions(new BudgetDecisionCounts(8, 1, 0, 1), new Dictionary<string, RequestedModel>
        {
            ["r2"] = new("anthropic", "claude-opus-4-1"),
        });
        var service = new BusinessMetricsService(selector, new UsageEventAdviceSource(new InMemoryEventReader(events)), budgets);
        BusinessMetricsReport report = (await service.ComputeAsync(new BusinessMetricsRequest { TenantId = Tenant, From = Day, To = Day.AddDays(1) })).Value!;

        Assert.Equal(4, report.Requests);
        Assert.Equal(1, report.UnpricedRequests);
        Assert.Equal(0.25m, report.UnpricedShare);
        Assert.Equal(0.012825m, report.CostUsd);
        Assert.Equal(0.000225m, report.Savings.CacheReadsUsd);
        Assert.Equal(1, report.Savings.CacheReadRequests);
        Assert.Equal(0.001425m, report.Savings.DiscountsUsd);
        Assert.Equal(0.0756m, report.Savings.DowngradesUsd);
        Assert.Equal(1, report.Savings.DowngradedRequests);
        Assert.Equal(0.07725m, report.Savings.TotalUsd);

        ModelCostMetrics gpt4o = report.ByModel.Single(m => m.Model == "gpt-4o");
        Assert.Equal((2, 0.007425m, (decimal?)0.0037125m, (decimal?)0.02475m), (gpt4o.Requests, gpt4o.CostUsd, gpt4o.AverageCostPerRequestUsd, gpt4o.CostPer1kOutputTokensUsd));
        // An unpriced model's averages are unknown, not zero.
        ModelCostMetrics mystery = report.ByModel.Single(m => m.Model == "mystery-1");
        Assert.Equal((1, 1, 0m, (decimal?)null, (decimal?)null),
            (mystery.Requests, mystery.UnpricedRequests, mystery.CostUsd, mystery.AverageCostPerRequestUsd, mystery.CostPer1kOutputTokensUsd));

        // openai 0.007425 of 0.012825 = 0.5789; 3 of 4 requests.
        Assert.Equal([("openai", 0.5789m, 0.75m), ("anthropic", 0.4211m, 0.25m)], report.Providers.Select(p => (p.Provider, p.CostShare, p.RequestShare)));
        Assert.Equal(new BudgetAdherence(true, 8, 1, 0, 1, 0.9m, null), report.BudgetAdherence);
    }

    [Fact]
    public async Task Without_budget_decision_records_adherence_and_downgrades_are_unknown_not_zero()
    {
        (List<UsageEvent> events, ModelSelector selector) = Traffic();
        var service = new BusinessMetricsService(selector, new UsageEventAdviceSource(new InMemoryEventReader(events)));
        BusinessMetricsReport report = (await service.ComputeAsync(new BusinessMetricsRequest { TenantId = Tenant, From = Day, To = Day.AddDays(1), TeamId = "red" })).Value!;

        Assert.False(report.BudgetAdherence.Recorded);
        Assert.Null(report.BudgetAdherence.Rate);
        Assert.Null(report.Savings.DowngradesUsd);
        Assert.Equal(3, report.Requests);
        Assert.Equal(0.007425m, report.CostUsd);
        Assert.Equal(0.000225m + 0.000575m + 0.00025m, report.Savings.TotalUsd);
    }

    [Fact]
    public async Task Invalid_period_names_the_field()
    {
        var service = new BusinessMetricsService(AdviceFixture.Selector(), new UsageEventAdviceSource(new InMemoryEventReader([])));
        Validated<BusinessMetricsReport> result = await service.ComputeAsync(new BusinessMetricsRequest { TenantId = "", From = Day, To = Day.AddDays(-1) });
        Assert.Equal(["tenant_id", "to"], result.Errors.Keys.Order(StringComparer.Ordinal));
    }

    private sealed class FixedBudgetDecisions(BudgetDecisionCounts counts, IReadOnlyDictionary<string, RequestedModel> downgrades) : IBudgetDecisionSource
    {
        public Task<BudgetDecisionCounts?> CountAsync(string tenantId, string? teamId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default) =>
            Task.FromResult<BudgetDecisionCounts?>(counts);

        public Task<IReadOnlyDictionary<string, RequestedModel>> DowngradesAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default) =>
            Task.FromResult(downgrades);
    }
}
