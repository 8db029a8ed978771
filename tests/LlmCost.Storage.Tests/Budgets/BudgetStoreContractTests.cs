using LlmCost.Core.Budgets;
using LlmCost.Storage.Budgets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Storage.Tests.Budgets;

/// <summary>Worst case: "big" $0.01, "small" $0.001 per request, whatever the tokens (the pricing is not under test here).</summary>
internal sealed class FixedPriceEstimator : IBudgetCostEstimator
{
    public WorstCase Estimate(string tenantId, string provider, string model, long inputTokens, long maxOutputTokens, DateTimeOffset at) => model switch
    {
        "big" => new WorstCase(true, 0.01m, inputTokens + maxOutputTokens),
        "small" => new WorstCase(true, 0.001m, inputTokens + maxOutputTokens),
        _ => new WorstCase(false, 0m, inputTokens + maxOutputTokens, "unknown model"),
    };
}

internal sealed class NoDowngrades : IDowngradeCatalog
{
    public IReadOnlyList<(string Provider, string Model)> Candidates(string provider, string model) => [("openai", "small")];
}

internal sealed class CountingPrompt : IPromptTokenCounter
{
    public long Count(string provider, string model, string? prompt, IReadOnlyList<PromptMessage>? messages) => 10;
}

/// <summary>
/// The budget ports' contract, run against the in-memory reference and against Table Storage on real Azurite.
/// Each test builds "instances": services that share storage but not memory (their own group-commit queues and
/// definition caches), as separate processes would.
/// </summary>
public abstract class BudgetStoreContractTests
{
    protected const string Tenant = "contract-tenant";

    protected FakeTimeProvider Time { get; } = new(DateTimeOffset.Parse("2026-06-10T08:00:00Z"));

    /// <summary>A new instance over the same storage (same prefix) as every other instance of this test.</summary>
    protected abstract (IBudgetRepository Repository, IBudgetLedger Ledger, IPendingAlertSource Alerts) NewInstance();

    private BudgetService Service((IBudgetRepository Repository, IBudgetLedger Ledger, IPendingAlertSource Alerts) instance) =>
        new(instance.Repository, instance.Ledger, new FixedPriceEstimator(), new NoDowngrades(), new CountingPrompt(),
            new LinearBudgetForecaster(), Time, new BudgetOptions { ReservationTtl = TimeSpan.FromMinutes(2), DefinitionCacheTtl = TimeSpan.Zero });

    private static AuthorizeRequest Request(string user = "u1", string model = "big", string? requestId = null) => new()
    {
        TenantId = Tenant, UserId = user, Provider = "openai", Model = model, InputTokens = 100, MaxTokens = 100, RequestId = requestId,
    };

    private static async Task<BudgetDefinition> CreateAsync(BudgetService service, string amount, string mode = "hard", string scope = "user", string scopeId = "u1")
    {
        var created = await service.CreateAsync(new BudgetDraft { TenantId = Tenant, Scope = scope, ScopeId = scopeId, AmountUsd = amount, Period = "daily", Mode = mode }, "admin");
        Assert.True(created.IsValid);
        return created.Value!;
    }

    [Fact]
    public async Task Concurrent_authorisations_on_three_instances_admit_exactly_what_fits()
    {
        var instances = Enumerable.Range(0, 3).Select(_ => Service(NewInstance())).ToArray();
        var budget = await CreateAsync(instances[0], "0.50");

        var decisions = await Task.WhenAll(Enumerable.Range(0, 240).Select(i =>
            Task.Run(async () => (await instances[i % 3].AuthorizeAsync(Request())).Value!)));

        Assert.Equal(50, decisions.Count(d => d.Outcome == AuthorizationOutcome.Allow));
        Assert.Equal(50, decisions.Select(d => d.ReservationId).OfType<string>().Distinct().Count());
        var status = (await instances[1].GetStatusAsync(budget.BudgetId, null))!.Value!;
        Assert.Equal(0.50m, status.ReservedUsd);
        Assert.Equal(50, status.ActiveReservations);
    }

    [Fact]
    public async Task Settlement_retried_on_another_instance_counts_once_and_alerts_fire_once()
    {
        var a = Service(NewInstance());
        var b = Service(NewInstance());
        var budget = await CreateAsync(a, "0.02", mode: "soft");
        var decision = (await a.AuthorizeAsync(Request())).Value!;

        var settlements = await Task.WhenAll(
            a.RecordUsageAsync(new BudgetUsage(Tenant, "u1", null, null, "evt-1", decision.ReservationId, Time.GetUtcNow(), 0.011m, true, 150)),
            b.RecordUsageAsync(new BudgetUsage(Tenant, "u1", null, null, "evt-1", decision.ReservationId, Time.GetUtcNow(), 0.011m, true, 150)),
            b.RecordUsageAsync(new BudgetUsage(Tenant, "u1", null, null, "evt-1", decision.ReservationId, Time.GetUtcNow(), 0.011m, true, 150)));

        Assert.Single(settlements, s => s.Outcome == SettlementOutcome.Applied);
        var status = (await b.GetStatusAsync(budget.BudgetId, null))!.Value!;
        Assert.Equal(0.011m, status.SpentUsd);
        Assert.Equal(0m, status.ReservedUsd);
        Assert.Equal(0, status.ActiveReservations);
        // At 08:00 a third of the day has passed: $0.011 projects to $0.033 > $0.02.
        Assert.Equal(["50", "projected"], status.FiredAlerts);
        var pending = await NewInstance().Alerts.ListPendingAsync(Tenant, 10);
        Assert.Equal(2, pending.Count);
        var alert = Assert.Single(pending, a => a.Kind == LlmCost.Core.Alerts.AlertKinds.BudgetThreshold);
        Assert.Equal(50m, alert.ThresholdPercent);
        Assert.Equal(budget.BudgetId, alert.BudgetId);
        Assert.Equal("0.011", alert.Details["spent_usd"]);

        await NewInstance().Alerts.MarkDispatchedAsync(pending);
        Assert.Empty(await NewInstance().Alerts.ListPendingAsync(Tenant, 10));
    }

    [Fact]
    public async Task Retried_authorisation_with_a_request_id_reserves_once_across_instances()
    {
        var a = Service(NewInstance());
        var b = Service(NewInstance());
        var budget = await CreateAsync(a, "1.00");

        var decisions = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => (i % 2 == 0 ? a : b).AuthorizeAsync(Request(requestId: "req-42"))));

        Assert.Single(decisions.Select(d => d.Value!.ReservationId).Distinct());
        Assert.Equal(0.01m, (await a.GetStatusAsync(budget.BudgetId, null))!.Value!.ReservedUsd);
    }

    [Fact]
    public async Task Expired_reservations_stop_counting_and_are_closed_once()
    {
        var a = Service(NewInstance());
        var b = Service(NewInstance());
        var budget = await CreateAsync(a, "0.02");
        await a.AuthorizeAsync(Request());
        await b.AuthorizeAsync(Request());
        Assert.Equal(AuthorizationOutcome.Deny, (await a.AuthorizeAsync(Request())).Value!.Outcome);

        Time.Advance(TimeSpan.FromMinutes(2));
        var expired = await Task.WhenAll(a.ExpireReservationsAsync(), b.ExpireReservationsAsync());

        Assert.Equal(2, expired.Sum());
        var status = (await a.GetStatusAsync(budget.BudgetId, null))!.Value!;
        Assert.Equal(0m, status.ReservedUsd);
        Assert.Equal(0, status.ActiveReservations);
        Assert.Equal(AuthorizationOutcome.Allow, (await b.AuthorizeAsync(Request())).Value!.Outcome);
    }

    [Fact]
    public async Task Freezes_and_budget_changes_are_audited_newest_first()
    {
        var a = Service(NewInstance());
        var budget = await CreateAsync(a, "1.00");
        Time.Advance(TimeSpan.FromSeconds(1));
        await a.FreezeAsync(Tenant, "user", "u1", "incident 7", "ops", freeze: true);

        Assert.Equal(AuthorizationOutcome.Deny, (await Service(NewInstance()).AuthorizeAsync(Request())).Value!.Outcome);
        Assert.Single(await NewInstance().Ledger.ListFreezesAsync(Tenant));

        Time.Advance(TimeSpan.FromSeconds(1));
        await a.FreezeAsync(Tenant, "user", "u1", null, "ops2", freeze: false);
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await a.DeleteAsync(budget.BudgetId, "admin9"));

        Assert.Empty(await NewInstance().Ledger.ListFreezesAsync(Tenant));
        var audit = await a.ListAuditAsync(Tenant, 10);
        Assert.Equal(["budget.delete", "unfreeze", "freeze", "budget.create"], audit.Select(e => e.Action));
        Assert.Equal("incident 7", audit[2].Details["reason"]);
        Assert.Null(await a.GetAsync(budget.BudgetId));
        Assert.Null(await a.UpdateAsync(budget.BudgetId, new BudgetDraft { Scope = "user", ScopeId = "u1", AmountUsd = "2", Period = "daily", Mode = "hard" }, "x"));
    }

    [Fact]
    public async Task Definitions_round_trip_exactly()
    {
        var a = Service(NewInstance());
        var created = await a.CreateAsync(new BudgetDraft
        {
            TenantId = Tenant, Scope = "team", ScopeId = "team %odd~chars", AmountUsd = "123.4567", Period = "monthly",
            Alignment = "rolling", TimeZone = "Europe/Berlin", Mode = "adaptive", Thresholds = ["80", "95.5"],
            CircuitBreaker = new CircuitBreakerDraft { WindowSeconds = "300", Multiple = "8", MinimumWindowSpendUsd = "1.5" },
        }, "admin");
        Assert.True(created.IsValid);

        var read = await Service(NewInstance()).GetAsync(created.Value!.BudgetId);

        Assert.NotNull(read);
        Assert.Equal(created.Value.AmountUsd, read.AmountUsd);
        Assert.Equal(created.Value.ScopeId, read.ScopeId);
        Assert.Equal([80m, 95.5m], read.ThresholdPercents);
        Assert.Equal(TimeSpan.FromMinutes(5), read.CircuitBreaker!.Window);
        Assert.Equal(PeriodAlignment.Rolling, read.Alignment);
        Assert.Single(await a.ListAsync(Tenant));
    }
}

public sealed class InMemoryBudgetStoreContractTests : BudgetStoreContractTests
{
    private readonly InMemoryBudgetStore _store;

    public InMemoryBudgetStoreContractTests()
    {
        _store = new InMemoryBudgetStore(Time, new LinearBudgetForecaster());
    }

    protected override (IBudgetRepository, IBudgetLedger, IPendingAlertSource) NewInstance() => (_store, _store, _store);
}

public sealed class TableBudgetStoreContractTests : BudgetStoreContractTests
{
    private readonly string _prefix = "b" + Guid.NewGuid().ToString("N")[..12];

    public TableBudgetStoreContractTests()
    {
        NewStorage().Table(TableBudgetStore.TableName).CreateIfNotExists();
    }

    private LlmCostStorage NewStorage() => new(
        new ConfigurationBuilder().AddInMemoryCollection([new(LlmCostStorage.ConnectionSetting, Azurite.ConnectionString)]).Build(),
        new StorageNames(Options.Create(new LlmCostStorageOptions { Prefix = _prefix })));

    protected override (IBudgetRepository, IBudgetLedger, IPendingAlertSource) NewInstance()
    {
        var store = new TableBudgetStore(NewStorage(), Time, new LinearBudgetForecaster());
        return (store, store, store);
    }
}
