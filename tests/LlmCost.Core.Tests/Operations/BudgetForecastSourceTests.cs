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
    public async Task A_team_budget_is_forecast_from_its_teams_recorded_spend_and_the_ledgers_total_and_alerts_with_the_ledgers_id()
    {
        var clock = new FakeTimeProvider(Now);
        var summaries = new Mock<IUsageSummaryReader>();
        // $10 and 40 tokens a day for the team since Oct 18 (28 days before the period start through yesterday), at noon.
        summaries.Setup(s => s.ReadBucketsAsync(UsageScope.Team("t1", "red"), new DateOnly(2026, 10, 4), new DateOnly(2026, 11, 14), It.IsAny<CancellationToken>()))
            .ReturnsAsync([.. Enumerable.Range(0, 28).Select(i => new UsageBucket("t1", "u1", "red",
                new DateTimeOffset(2026, 10, 18, 12, 0, 0, TimeSpan.Zero).AddDays(i), "openai", "gpt-4o", new UsageTotals { Events = 1, CostUsd = 10m, InputTokens = 40 }))]);
        var tokens = Budget("b-tokens", BudgetScope.Team, "red", null) with { TokenLimit = 1_000 };
        var key = Budget("b-key", BudgetScope.Key, "k1", 250m);
        var team = Budget("b-team", BudgetScope.Team, "red", 250m);
        // What the ledger has settled this period: $140 and 560 tokens for the team, $200 under the API key.
        var ledger = Ledger(State(team, 140m), State(tokens, tokens: 560), State(key, 200m));
        var source = new BudgetForecastSource(Tenants("t1"), Budgets(
            team,
            tokens,
            key,
            Budget("b-every-user", BudgetScope.User, BudgetDefinition.EveryUser, 250m),
            Budget("b-quiet", BudgetScope.Team, "red", 250m) with { AlertOnProjectedOverrun = false },
            Budget("b-per-request", BudgetScope.Team, "red", 250m) with { Period = BudgetPeriod.PerRequest }),
            ledger, new BudgetForecaster(new SpendForecaster(clock), new UsageSummarySpendHistory(summaries.Object, clock), clock), clock);

        var inputs = (await source.ListActiveAsync()).ToDictionary(i => i.BudgetId);

        Assert.Equal(["b-key", "b-team", "b-tokens"], inputs.Keys.Order());
        var input = inputs["b-team"];
        Assert.Equal(("team", "red", 250m, "usd"), (input.Scope, input.ScopeId, input.Limit, input.Unit));
        Assert.Equal((new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1)), (input.Request.PeriodStart, input.Request.PeriodEnd));
        Assert.Equal(28, input.Request.History.Count);
        Assert.Equal(280m, input.Request.History.Sum(h => h.CostUsd));
        Assert.Equal(140m, input.Request.SpentInPeriod);
        Assert.Equal("budget:b-team:red:20261101T0000Z:projected", input.AlertId);

        // $10/day: 140 spent by Nov 14, 300 projected against 250, the limit reached on Nov 25.
        var alerter = new ProjectionAlerter(new SpendForecaster(clock), clock);
        var alert = alerter.Evaluate(input);
        Assert.NotNull(alert);
        Assert.Equal(AlertKinds.BudgetProjectedOverrun, alert.Kind);
        Assert.Equal(input.AlertId, alert.AlertId);
        Assert.Equal("300", alert.Details["projected_usd"]);
        Assert.Equal("2026-11-25", alert.Details["reaches_limit_on"]);

        // A key budget has no daily history (usage is not kept per key): its ledger total's run rate, $200 in
        // 14 days projecting $428.57 by the end of November.
        var keyAlert = alerter.Evaluate(inputs["b-key"]);
        Assert.NotNull(keyAlert);
        Assert.Equal("run_rate", keyAlert.Details["method"]);
        Assert.Equal(428.571429m, decimal.Parse(keyAlert.Details["projected_usd"], System.Globalization.CultureInfo.InvariantCulture));

        // A token budget is forecast in tokens: 40 a day, 560 so far, 1,200 projected against 1,000.
        var tokenAlert = alerter.Evaluate(inputs["b-tokens"]);
        Assert.NotNull(tokenAlert);
        Assert.Equal(("1000", "1200", "2026-11-25"), (tokenAlert.Details["limit_tokens"], tokenAlert.Details["projected_tokens"], tokenAlert.Details["reaches_limit_on"]));
    }

    [Fact]
    public async Task No_tenant_with_usage_means_nothing_to_forecast()
    {
        var clock = new FakeTimeProvider(Now);
        var source = new BudgetForecastSource(Tenants(), Budgets(Budget("b1", BudgetScope.Tenant, "t1", 10m)), Ledger(),
            new BudgetForecaster(new SpendForecaster(clock), new UsageSummarySpendHistory(Mock.Of<IUsageSummaryReader>(), clock), clock), clock);
        Assert.Empty(await source.ListActiveAsync());
    }

    private static BudgetPeriodState State(BudgetDefinition budget, decimal usd = 0m, long tokens = 0) => BudgetPeriodState.Restore(new PeriodStateSnapshot
    {
        BudgetId = budget.BudgetId,
        Subject = budget.ScopeId,
        Window = BudgetPeriodCalculator.WindowFor(budget, Now)!.Value,
        SpentUsd = usd,
        SpentTokens = tokens,
    });

    private static IBudgetLedger Ledger(params BudgetPeriodState[] states)
    {
        var ledger = new Mock<IBudgetLedger>();
        ledger.Setup(l => l.ReadAsync(It.IsAny<string>(), It.IsAny<IReadOnlyCollection<string>>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((string tenant, IReadOnlyCollection<string> keys, CancellationToken _) =>
            {
                var partition = new LedgerPartition(tenant);
                foreach (var state in states.Where(s => keys.Contains(s.Key)))
                {
                    partition.States[state.Key] = state;
                }

                return partition;
            });
        return ledger.Object;
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
