using LlmCost.Core.Budgets;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace LlmCost.Core.Tests.Budgets;

/// <summary>
/// A re-pricing moves the spent figure of open period states by the events' change of cost, once per intent; closed
/// periods and states that do not exist are left alone; an enforced budget whose spend grew is enforced on the new
/// figure at once.
/// </summary>
public sealed class RepricingLedgerTests
{
    private const string Tenant = "acme";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-06-10T08:00:00Z"));
    private readonly InMemoryBudgetStore _store;
    private readonly BudgetService _service;
    private readonly BudgetRepricingObserver _observer;

    public RepricingLedgerTests()
    {
        _store = new InMemoryBudgetStore(_time, new InMemorySpendHistory(_time));
        var estimator = new Mock<IBudgetCostEstimator>();
        estimator
            .Setup(e => e.Estimate(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<string>(), It.IsAny<long>(), It.IsAny<long>(), It.IsAny<DateTimeOffset>()))
            .Returns((string _, string _, string _, long input, long max, DateTimeOffset _) => new WorstCase(true, 0.01m, input + max));
        _service = new BudgetService(_store, _store, estimator.Object, Mock.Of<IDowngradeCatalog>(), new SharedPromptTokenCounter(),
            new InMemorySpendHistory(_time).Forecaster(), _time, new BudgetOptions { ReservationTtl = TimeSpan.FromMinutes(5) });
        _observer = new BudgetRepricingObserver(_store, _store);
    }

    private static RepricingIntent Intent(string id, DateOnly day, params RepricedCost[] changes) => new(id, new UserDay(Tenant, "u1", day), changes);

    private static RepricedCost Change(DateTimeOffset at, decimal oldCost, decimal newCost, bool newPriced = true) =>
        new(null, null, at, oldCost, newCost, true, newPriced);

    private async Task<BudgetPeriodState?> StateAsync(BudgetDefinition budget, DateTimeOffset at)
    {
        string key = BudgetKeys.State(budget.BudgetId, budget.SubjectFor("u1"), BudgetPeriodCalculator.WindowFor(budget, at)!.Value.Key);
        return (await _store.ReadAsync(Tenant, [key])).States.GetValueOrDefault(key);
    }

    [Fact]
    public async Task OpenPeriodsMoveToTheNewCostOnceClosedOnesStay()
    {
        BudgetDefinition budget = (await _service.CreateAsync(new BudgetDraft { TenantId = Tenant, Scope = "user", ScopeId = "u1", AmountUsd = "0.05", Period = "daily", Mode = "hard" }, "admin")).Value!;
        DateTimeOffset today = _time.GetUtcNow().AddHours(-1);
        DateTimeOffset yesterday = today.AddDays(-1);
        await _service.RecordUsageAsync(new BudgetUsage(Tenant, "u1", null, null, "e1", null, yesterday, 0.01m, true, 10));
        await _service.RecordUsageAsync(new BudgetUsage(Tenant, "u1", null, null, "e2", null, today, 0.02m, true, 10));
        await _service.RecordUsageAsync(new BudgetUsage(Tenant, "u1", null, null, "e3", null, today, 0.001m, true, 10));
        Assert.Equal(0.021m, (await StateAsync(budget, today))!.SpentUsd);

        // A reservation holds part of today's grant before the prices change.
        AuthorizationDecision held = (await _service.AuthorizeAsync(new AuthorizeRequest { TenantId = Tenant, UserId = "u1", Provider = "openai", Model = "m", InputTokens = 10, MaxTokens = 10 })).Value!;
        Assert.Equal(AuthorizationOutcome.Allow, held.Outcome);

        RepricingIntent[] intents =
        [
            Intent("a", DateOnly.FromDateTime(yesterday.UtcDateTime), Change(yesterday, 0.01m, 0.005m)),
            Intent("b", DateOnly.FromDateTime(today.UtcDateTime), Change(today, 0.02m, 0.035m), Change(today, 0.001m, 0m, newPriced: false)),
        ];
        await _observer.OnRepricedAsync(intents);

        BudgetPeriodState open = (await StateAsync(budget, today))!;
        Assert.Equal(0.035m, open.SpentUsd);
        Assert.Equal(1, open.UnpricedEvents);
        Assert.Equal(2, open.EventCount);
        Assert.Equal(0.01m, (await StateAsync(budget, yesterday))!.SpentUsd);

        // Applied again (a rerun after a crash before the checkpoint): nothing moves twice.
        await _observer.OnRepricedAsync(intents);
        Assert.Equal(0.035m, (await StateAsync(budget, today))!.SpentUsd);

        // Enforced on the new figure: 0.035 spent + 0.01 held leaves 0.005, so another 0.01 call is refused.
        AuthorizationDecision refused = (await _service.AuthorizeAsync(new AuthorizeRequest { TenantId = Tenant, UserId = "u1", Provider = "openai", Model = "m", InputTokens = 10, MaxTokens = 10 })).Value!;
        Assert.Equal(AuthorizationOutcome.Deny, refused.Outcome);
        Assert.Equal(0.005m, (await _service.GetStatusAsync(budget.BudgetId, null))!.Value!.RemainingUsd);
    }

    [Fact]
    public async Task AStateThatDoesNotExistYetIsNotCreated()
    {
        BudgetDefinition budget = (await _service.CreateAsync(new BudgetDraft { TenantId = Tenant, Scope = "user", ScopeId = "u1", AmountUsd = "1", Period = "monthly", Mode = "soft" }, "admin")).Value!;
        DateTimeOffset nextMonthEvent = new(2026, 7, 1, 0, 30, 0, TimeSpan.Zero);
        await _observer.OnRepricedAsync([Intent("c", new DateOnly(2026, 7, 1), Change(nextMonthEvent, 0.5m, 0.25m))]);
        Assert.Null(await StateAsync(budget, nextMonthEvent));
    }
}
