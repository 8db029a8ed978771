using BenchmarkDotNet.Attributes;
using LlmCost.Core.Budgets;
using LlmCost.Core.Estimation;
using LlmCost.Core.Pricing;

namespace LlmCost.Benchmarks;

/// <summary>
/// The in-process work of POST /api/budgets/authorize without storage: estimate, applicable budgets, the ledger
/// command against three period states (user, team, tenant), on the in-memory store (one lock, no I/O). The Table
/// Storage figures (round trips, end to end) come from bench/LlmCost.BudgetLoad.
/// </summary>
[MemoryDiagnoser]
public class BudgetAuthorizationBenchmarks
{
    private BudgetService _service = null!;
    private IBudgetCostEstimator _estimator = null!;
    private long _n;

    private readonly AuthorizeRequest _request = new()
    {
        TenantId = "bench-tenant", UserId = "bench-user", TeamId = "bench-team", Provider = "openai", Model = "gpt-4o-mini",
        InputTokens = 1200, MaxTokens = 800,
    };

    [GlobalSetup]
    public void Setup()
    {
        var time = TimeProvider.System;
        var history = new InMemorySpendHistory(time);
        var store = new InMemoryBudgetStore(time, history);
        _estimator = new EstimatorBudgetCostEstimator(new CostEstimator(PricingEngine.Default, time));
        _service = new BudgetService(store, store, _estimator,
            new CatalogDowngradeCatalog(PriceCatalog.BuiltIn, time, new Dictionary<string, IReadOnlyList<string>>()),
            new SharedPromptTokenCounter(), history.Forecaster(), time, new BudgetOptions { DefinitionCacheTtl = TimeSpan.FromHours(1) });
        foreach (var (scope, id) in new[] { ("user", "bench-user"), ("team", "bench-team"), ("tenant", "bench-tenant") })
        {
            _service.CreateAsync(new BudgetDraft
            {
                TenantId = "bench-tenant", Scope = scope, ScopeId = id, AmountUsd = "1000000000", Period = "monthly", Mode = "hard",
            }, "bench").GetAwaiter().GetResult();
        }
    }

    [Benchmark(Baseline = true)]
    public WorstCase EstimateOnly() => _estimator.Estimate("bench-tenant", "openai", "gpt-4o-mini", 1200, 800, DateTimeOffset.UtcNow);

    /// <summary>Authorise, then settle (so the period states stay at their steady size).</summary>
    [Benchmark]
    public async Task<AuthorizationDecision> AuthorizeAndSettle()
    {
        var decision = (await _service.AuthorizeAsync(_request)).Value!;
        await _service.RecordUsageAsync(new BudgetUsage("bench-tenant", "bench-user", "bench-team", null, $"e{++_n}", decision.ReservationId,
            DateTimeOffset.UtcNow, 0.0003m, true, 1600));
        return decision;
    }
}
