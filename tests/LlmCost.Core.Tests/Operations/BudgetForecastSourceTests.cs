using LlmCost.Core.Alerts;
using LlmCost.Core.Audit;
using LlmCost.Core.Budgets;
using LlmCost.Core.Forecasting;
using LlmCost.Core.Recording;
using LlmCost.Core.Rollups;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace LlmCost.Core.Tests.Operations;

/// <summary>The projection timer's source: budgets with their scope's recorded daily spend, and the alert they lead to.</summary>
public class BudgetForecastSourceTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 15, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_team_budget_is_forecast_from_its_teams_recorded_spend_and_alerts_with_the_ledgers_id()
    {
        var clock = new FakeTimeProvider(Now);
        var summaries = new Mock<IUsageSummaryReader>();
        // $10 a day for the team since Oct 18 (28 days before the period start through yesterday), at noon.
        summaries.Setup(s => s.ReadBucketsAsync(UsageScope.Team("t1", "red"), new DateOnly(2026, 10, 4), new DateOnly(2026, 11, 15), It.IsAny<CancellationToken>()))
            .ReturnsAsync([.. Enumerable.Range(0, 28).Select(i => new UsageBucket("t1", "u1", "red",
                new DateTimeOffset(2026, 10, 18, 12, 0, 0, TimeSpan.Zero).AddDays(i), "openai", "gpt-4o", new UsageTotals { Events = 1, CostUsd = 10m }))]);
        var source = new BudgetForecastSource(Tenants("t1"), Budgets(
            Budget("b-team", BudgetScope.Team, "red", 250m),
            Budget("b-tokens", BudgetScope.Team, "red", null) with { TokenLimit = 1_000 },
            Budget("b-key", BudgetScope.Key, "k1", 250m),
            Budget("b-every-user", BudgetScope.User, BudgetDefinition.EveryUser, 250m),
            Budget("b-quiet", BudgetScope.Team, "red", 250m) with { AlertOnProjectedOverrun = false },
            Budget("b-per-request", BudgetScope.Team, "red", 250m) with { Period = BudgetPeriod.PerRequest }),
            new UsageQueryService(summaries.Object), clock);

        var inputs = await source.ListActiveAsync();

        var input = Assert.Single(inputs);
        Assert.Equal(("b-team", "team", "red", 250m), (input.BudgetId, input.Scope, input.ScopeId, input.LimitUsd));
        Assert.Equal((new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1)), (input.PeriodStart, input.PeriodEnd));
        Assert.Equal(28, input.History.Count);
        Assert.Equal(280m, input.History.Sum(h => h.CostUsd));
        Assert.Equal("budget:b-team:red:20261101T0000Z:projected", input.AlertId);

        // $10/day: 140 spent by Nov 14, 300 projected against 250.
        var alert = new ProjectionAlerter(new SpendForecaster(clock), clock).Evaluate(input);
        Assert.NotNull(alert);
        Assert.Equal(AlertKinds.BudgetProjectedOverrun, alert.Kind);
        Assert.Equal(input.AlertId, alert.AlertId);
    }

    [Fact]
    public async Task No_tenant_with_usage_means_nothing_to_forecast()
    {
        var source = new BudgetForecastSource(Tenants(), Budgets(Budget("b1", BudgetScope.Tenant, "t1", 10m)),
            new UsageQueryService(Mock.Of<IUsageSummaryReader>()), new FakeTimeProvider(Now));
        Assert.Empty(await source.ListActiveAsync());
    }

    private static IRollupStore Tenants(params string[] tenants)
    {
        var store = new Mock<IRollupStore>();
        store.Setup(s => s.ListTenantsAsync(It.IsAny<CancellationToken>())).ReturnsAsync(tenants);
        return store.Object;
    }

    private static IBudgetRepository Budgets(params BudgetDefinition[] budgets)
    {
        var repository = new Mock<IBudgetRepository>();
        repository.Setup(r => r.ListAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((string tenant, CancellationToken _) => budgets.Where(b => b.TenantId == tenant).ToList());
        return repository.Object;
    }

    private static BudgetDefinition Budget(string id, BudgetScope scope, string scopeId, decimal? amountUsd) => new()
    {
        BudgetId = id,
        TenantId = "t1",
        Scope = scope,
        ScopeId = scopeId,
        AmountUsd = amountUsd,
        Period = BudgetPeriod.Monthly,
        Mode = BudgetMode.Soft,
        CreatedAt = Now.AddMonths(-2),
    };
}
