using LlmCost.Core.Budgets;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace LlmCost.Core.Tests.Budgets;

/// <summary>
/// Usage acknowledged on this instance and not yet counted by the ledger, as authorisations see it: which budgets
/// an event weighs on, when it stops weighing (counted, or past the horizon), and the conservative total past the
/// exact limit. Every call is worth $0.01 at worst ("big"); budgets are hard and daily.
/// </summary>
public sealed class UnappliedBudgetSpendTests
{
    private const string Tenant = "acme";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-06-10T08:00:00Z"));
    private readonly InMemoryBudgetStore _store;
    private readonly BudgetService _service;
    private readonly UnappliedBudgetSpend _unapplied;

    public UnappliedBudgetSpendTests()
    {
        var options = new BudgetOptions { UnappliedSpendHorizon = TimeSpan.FromSeconds(30) };
        _store = new InMemoryBudgetStore(_time, new InMemorySpendHistory(_time));
        _unapplied = new UnappliedBudgetSpend(_time, options);
        var estimator = new Mock<IBudgetCostEstimator>();
        estimator
            .Setup(e => e.Estimate(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<string>(), It.IsAny<long>(), It.IsAny<long>(), It.IsAny<DateTimeOffset>()))
            .Returns((string _, string _, string _, long input, long max, DateTimeOffset _) => new WorstCase(true, 0.01m, input + max));
        _service = new BudgetService(_store, _store, estimator.Object, new Mock<IDowngradeCatalog> { CallBase = true }.Object, new SharedPromptTokenCounter(),
            new InMemorySpendHistory(_time).Forecaster(), _time, options, _unapplied);
    }

    private async Task Create(string amount, string scope, string scopeId)
    {
        var result = await _service.CreateAsync(new BudgetDraft { TenantId = Tenant, Scope = scope, ScopeId = scopeId, AmountUsd = amount, Period = "daily", Mode = "hard" }, "admin");
        Assert.True(result.IsValid);
    }

    private async Task<AuthorizationOutcome> Authorize(string user, string? team = null)
    {
        var result = await _service.AuthorizeAsync(new AuthorizeRequest { TenantId = Tenant, UserId = user, TeamId = team, Provider = "openai", Model = "big", InputTokens = 10, MaxTokens = 10 });
        Assert.True(result.IsValid);
        return result.Value!.Outcome;
    }

    private UsageEvent Event(string id, string user, decimal cost, string? team = null, DateTimeOffset? at = null) => new()
    {
        EventId = id, TenantId = Tenant, UserId = user, TeamId = team, Provider = "openai", Model = "big",
        Timestamp = at ?? _time.GetUtcNow(), Usage = new CanonicalUsage { InputTokens = 10, OutputTokens = 5 }, CostUsd = cost, Priced = true,
    };

    [Fact]
    public async Task An_event_weighs_on_its_tenant_its_team_and_its_user_in_the_period_of_its_timestamp_only()
    {
        await Create("0.025", "team", "red");
        await Create("0.025", "team", "blue");
        _unapplied.OnAcknowledged([Event("e1", "ann", 0.016m, team: "red"), Event("e0", "ann", 5m, team: "red", at: _time.GetUtcNow().AddDays(-1))]);

        Assert.Equal(AuthorizationOutcome.Allow, await Authorize("bob", team: "blue"));
        Assert.Equal(AuthorizationOutcome.Deny, await Authorize("cat", team: "red"));
        Assert.Equal(AuthorizationOutcome.Allow, await Authorize("bob", team: "blue"));
        Assert.Equal(AuthorizationOutcome.Deny, await Authorize("bob", team: "blue"));

        await Create("0.03", "tenant", Tenant);
        Assert.Equal(AuthorizationOutcome.Allow, await Authorize("dan"));
        Assert.Equal(AuthorizationOutcome.Deny, await Authorize("dan"));
    }

    [Fact]
    public async Task Once_the_ledger_counted_an_event_it_is_counted_there_only_and_an_unknown_one_stops_weighing_after_the_horizon()
    {
        await Create("0.03", "user", "ann");
        var counted = Event("e1", "ann", 0.006m);
        var lost = Event("e2", "ann", 0.006m);
        _unapplied.OnAcknowledged([counted, lost]);
        await _service.RecordUsageAsync(new BudgetUsage(Tenant, "ann", null, null, counted.EventId, null, counted.Timestamp, counted.CostUsd, true, 15));
        _unapplied.Applied([counted]);

        // $0.006 counted + $0.006 pending of $0.03: one $0.01 call fits, a second does not.
        Assert.Equal(1, _unapplied.Count);
        Assert.Equal(AuthorizationOutcome.Allow, await Authorize("ann"));
        Assert.Equal(AuthorizationOutcome.Deny, await Authorize("ann"));

        // Applied elsewhere (another instance swept it) and never heard of here: dropped after the horizon.
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(AuthorizationOutcome.Allow, await Authorize("ann"));
        Assert.Equal(0, _unapplied.Count);
    }

    [Fact]
    public async Task Past_the_exact_limit_the_tenant_total_weighs_on_every_budget_so_nothing_is_missed()
    {
        await Create("0.025", "user", "ann");
        await Create("0.025", "user", "bob");
        var many = Enumerable.Range(0, UnappliedBudgetSpend.ExactLimit).Select(i => Event($"z{i}", "zed", 0m)).Append(Event("ann-1", "ann", 0.016m)).ToList();
        _unapplied.OnAcknowledged(many);

        Assert.Equal(AuthorizationOutcome.Deny, await Authorize("ann"));
        Assert.Equal(AuthorizationOutcome.Deny, await Authorize("bob"));

        _unapplied.Applied(many.Take(10).ToList());
        Assert.Equal(AuthorizationOutcome.Allow, await Authorize("bob"));
        Assert.Equal(AuthorizationOutcome.Deny, await Authorize("ann"));
    }
}
