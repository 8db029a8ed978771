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
    protected abstract (IBudgetRepository Repository, IBudgetLedger Ledger, IPendingAlertSource Alerts) NewInstance(IBudgetSpendHistory? history = null);

    protected BudgetService Service((IBudgetRepository Repository, IBudgetLedger Ledger, IPendingAlertSource Alerts) instance) =>
        new(instance.Repository, instance.Ledger, new FixedPriceEstimator(), new NoDowngrades(), new CountingPrompt(),
            new InMemorySpendHistory(Time).Forecaster(), Time, new BudgetOptions { ReservationTtl = TimeSpan.FromMinutes(2), DefinitionCacheTtl = TimeSpan.Zero });

    /// <summary>Runs <paramref name="count"/> calls with at most <paramref name="parallel"/> in flight, as concurrent clients would.</summary>
    private static async Task<T[]> RunAsync<T>(int count, int parallel, Func<int, Task<T>> call)
    {
        var results = new T[count];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                results[i] = await call(i);
            }
        })));
        return results;
    }

    protected static AuthorizeRequest Request(string user = "u1", string model = "big", string? requestId = null) => new()
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
        // Projections are not the ledger's to raise (the timer's, from the daily history): only the threshold fired.
        Assert.Equal(["50"], status.FiredAlerts);
        var pending = await NewInstance().Alerts.ListPendingAsync(Tenant, 10);
        Assert.Single(pending);
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

    /// <summary>
    /// Thousands in flight for one tenant-wide hard budget: N authorisations (2,000 here so the suite stays quick on
    /// a loaded machine; LLMCOST_BUDGET_CONTRACT_AUTHORISATIONS=20000 runs the full size, and the HTTP load tool runs
    /// it end to end) from three instances, half of them settled while the others keep arriving, half still open
    /// at the end. The reserved total equals the sum
    /// of the open reservations to the last digit; then expiry (on two instances at once) and late events racing it
    /// close every open one exactly once.
    /// </summary>
    [Fact]
    public async Task Thousands_of_open_reservations_stay_exact_and_each_closes_exactly_once()
    {
        var authorisations = int.TryParse(Environment.GetEnvironmentVariable("LLMCOST_BUDGET_CONTRACT_AUTHORISATIONS"), out var n) ? n : 2_000;
        var instances = Enumerable.Range(0, 3).Select(_ => Service(NewInstance())).ToArray();
        var budget = await CreateAsync(instances[0], "1000000", scope: "tenant", scopeId: Tenant);

        // Every other admitted call reports its usage (at most 1/4 of its $0.01 worst case) while the rest arrive.
        var decisions = await RunAsync(authorisations, 64, async i =>
        {
            var instance = instances[i % 3];
            var decision = (await instance.AuthorizeAsync(Request(user: $"user-{i % 50}"))).Value!;
            if (i % 2 == 0 && decision.ReservationId is { } id)
            {
                await instance.RecordUsageAsync(new BudgetUsage(Tenant, $"user-{i % 50}", null, null, $"evt-{i}", id, Time.GetUtcNow(), Actual(i), true, 150));
            }

            return decision;
        });
        Assert.All(decisions, d => Assert.Equal(AuthorizationOutcome.Allow, d.Outcome));
        Assert.Equal(authorisations, decisions.Select(d => d.ReservationId).Distinct().Count());
        var open = decisions.Where((_, i) => i % 2 == 1).ToList();
        var status = (await instances[1].GetStatusAsync(budget.BudgetId, null))!.Value!;
        Assert.Equal(open.Count, status.ActiveReservations);
        Assert.Equal(open.Sum(d => d.ReservedUsd), status.ReservedUsd);
        Assert.Equal(Enumerable.Range(0, authorisations).Where(i => i % 2 == 0).Sum(Actual), status.SpentUsd);
        Assert.Equal(authorisations / 2, status.EventCount);

        // Past the expiry: two instances sweep while a fifth of the open calls report late, concurrently.
        Time.Advance(TimeSpan.FromMinutes(3));
        var late = Enumerable.Range(0, authorisations).Where(i => i % 2 == 1 && i % 5 == 0).ToList();
        var sweeps = Task.WhenAll(instances[0].ExpireReservationsAsync(), instances[2].ExpireReservationsAsync());
        var lateResults = await RunAsync(late.Count, 16, j => instances[j % 3].RecordUsageAsync(new BudgetUsage(
            Tenant, $"user-{late[j] % 50}", null, null, $"late-{late[j]}", decisions[late[j]].ReservationId, Time.GetUtcNow(), Actual(late[j]), true, 150)));
        var expired = (await sweeps).Sum() + await instances[1].ExpireReservationsAsync();

        // Each open reservation ended once: expired by a sweep, or released by its event before a sweep got to it.
        Assert.Equal(open.Count, expired + lateResults.Count(r => r.ReservationReleased));
        Assert.Equal(late.Count, lateResults.Count(r => r.ReservationReleased || r.Late));
        Assert.Equal(0, await instances[0].ExpireReservationsAsync());
        status = (await instances[0].GetStatusAsync(budget.BudgetId, null))!.Value!;
        Assert.Equal(0m, status.ReservedUsd);
        Assert.Equal(0, status.ActiveReservations);
        Assert.Equal(Enumerable.Range(0, authorisations).Where(i => i % 2 == 0).Concat(late).Sum(Actual), status.SpentUsd);
        Assert.Equal(lateResults.Count(r => r.Late), status.LateSettlements);
        Assert.Empty(await NewInstance().Ledger.ListDueReservationsAsync(Tenant, Time.GetUtcNow(), 10));

        static decimal Actual(int i) => 0.0001m * (1 + (i % 25));
    }

    [Fact]
    public async Task Late_events_racing_the_expiry_sweep_settle_or_expire_each_reservation_once_and_always_count()
    {
        var instances = Enumerable.Range(0, 3).Select(_ => Service(NewInstance())).ToArray();
        var budget = await CreateAsync(instances[0], "100", scope: "tenant", scopeId: Tenant);
        var decisions = await RunAsync(300, 32, i => instances[i % 3].AuthorizeAsync(Request(user: $"user-{i % 3}")));
        Time.Advance(TimeSpan.FromMinutes(3));

        var sweep = Task.WhenAll(instances.Select(s => s.ExpireReservationsAsync()));
        var settled = await RunAsync(300, 32, i => instances[(i + 1) % 3].RecordUsageAsync(new BudgetUsage(
            Tenant, $"user-{i % 3}", null, null, $"evt-{i}", decisions[i].Value!.ReservationId, Time.GetUtcNow(), 0.002m, true, 150)));
        var expired = (await sweep).Sum() + await instances[0].ExpireReservationsAsync();

        // Each reservation ended once: released by its event before the sweep reached it, or expired first and
        // then settled late. Either way its actual cost counts exactly once.
        Assert.Equal(300, expired + settled.Count(r => r.ReservationReleased));
        Assert.Equal(expired, settled.Count(r => r.Late));
        var status = (await instances[1].GetStatusAsync(budget.BudgetId, null))!.Value!;
        Assert.Equal(0m, status.ReservedUsd);
        Assert.Equal(0.6m, status.SpentUsd);
        Assert.Equal(expired, status.LateSettlements);
    }

    [Fact]
    public async Task A_budget_created_mid_period_is_seeded_once_across_instances()
    {
        var history = new FixedHistory(0.3m);
        var a = Service(NewInstance(history));
        var b = Service(NewInstance(history));
        var budget = await CreateAsync(a, "0.35", scope: "tenant", scopeId: Tenant);

        var decisions = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => (i % 2 == 0 ? a : b).AuthorizeAsync(Request(user: $"u{i}"))));

        Assert.Equal(5, decisions.Count(d => d.Value!.Outcome == AuthorizationOutcome.Allow));
        var status = (await b.GetStatusAsync(budget.BudgetId, null))!.Value!;
        Assert.Equal(0.3m, status.SeededUsd);
        Assert.Equal(0.3m, status.SpentUsd);
        Assert.Equal(1, history.Reads);
    }

    [Fact]
    public async Task Forgetting_a_user_releases_their_holds_and_leaves_nothing_of_theirs()
    {
        var a = Service(NewInstance());
        var tenant = await CreateAsync(a, "1.00", scope: "tenant", scopeId: Tenant);
        var everyUser = await CreateAsync(a, "0.50", scope: "user", scopeId: "*");
        await a.AuthorizeAsync(Request(user: "gone"));
        await a.AuthorizeAsync(Request(user: "gone"));
        var kept = (await a.AuthorizeAsync(Request(user: "stays"))).Value!;
        await a.RecordUsageAsync(new BudgetUsage(Tenant, "gone", null, null, "gone-1", null, Time.GetUtcNow(), 0.002m, true, 10));
        await a.FreezeAsync(Tenant, "user", "gone", null, "admin", freeze: true);

        var erased = await Service(NewInstance()).ForgetUserAsync(Tenant, "gone");

        Assert.Equal(2, erased.ReleasedReservations);
        Assert.Equal(1, erased.DeletedRows["freezes"]);
        Assert.Equal(1, erased.DeletedRows["states"]);
        Assert.Equal(2, erased.DeletedRows["reservations"]);
        var status = (await a.GetStatusAsync(tenant.BudgetId, null))!.Value!;
        Assert.Equal(kept.ReservedUsd, status.ReservedUsd);
        Assert.Equal(0.002m, status.SpentUsd);
        Assert.Equal(0m, (await a.GetStatusAsync(everyUser.BudgetId, "gone"))!.Value!.SpentUsd);
        Assert.Empty(await NewInstance().Ledger.ListUserReservationsAsync(Tenant, "gone"));
        Assert.Single(await NewInstance().Ledger.ListUserReservationsAsync(Tenant, "stays"));
    }

    [Fact]
    public async Task An_event_settling_another_users_reservation_never_releases_it()
    {
        var a = Service(NewInstance());
        var budget = await CreateAsync(a, "0.02", scope: "user", scopeId: "alice");
        var alices = (await a.AuthorizeAsync(Request(user: "alice"))).Value!;

        await a.RecordUsageAsync(new BudgetUsage(Tenant, "bob", null, null, "bob-1", alices.ReservationId, Time.GetUtcNow(), 0.005m, true, 10));

        var status = (await a.GetStatusAsync(budget.BudgetId, null))!.Value!;
        Assert.Equal(0.01m, status.ReservedUsd);
        Assert.Equal(0m, status.SpentUsd);
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

/// <summary>Spend history that answers a fixed amount and counts how often it was read.</summary>
internal sealed class FixedHistory(decimal usd) : IBudgetSpendHistory
{
    private int _reads;

    public int Reads => _reads;

    public Task<RecordedSpend> ReadAsync(string tenantId, BudgetScope scope, string subject, DateTimeOffset from, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _reads);
        return Task.FromResult(new RecordedSpend(DateTimeOffset.UtcNow, usd, 100, 1, 0));
    }

    public Task<IReadOnlyList<RecordedDay>> ReadDailyAsync(
        string tenantId, BudgetScope scope, string subject, DateOnly fromDay, DateOnly toDay, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<RecordedDay>>([]);
}

public sealed class InMemoryBudgetStoreContractTests : BudgetStoreContractTests
{
    private InMemoryBudgetStore? _store;

    protected override (IBudgetRepository, IBudgetLedger, IPendingAlertSource) NewInstance(IBudgetSpendHistory? history = null)
    {
        // One store is "the storage" every instance shares; the first instance decides its spend history.
        _store ??= new InMemoryBudgetStore(Time, history);
        return (_store, _store, _store);
    }
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

    protected override (IBudgetRepository, IBudgetLedger, IPendingAlertSource) NewInstance(IBudgetSpendHistory? history = null) => Instance(new TableBudgetStoreOptions(), history);

    private (IBudgetRepository, IBudgetLedger, IPendingAlertSource) Instance(TableBudgetStoreOptions options, IBudgetSpendHistory? history = null)
    {
        var store = new TableBudgetStore(NewStorage(), Time, history, options);
        return (store, store, store);
    }

    [Fact]
    public async Task A_freeze_binds_at_once_on_its_instance_and_within_the_staleness_bound_on_others()
    {
        var a = Service(NewInstance());
        var b = Service(NewInstance());
        // A reads the tenant's freezes as one set (none yet).
        Assert.Equal(AuthorizationOutcome.Allow, (await a.AuthorizeAsync(Request("u1"))).Value!.Outcome);

        // Its own freeze is newer than the set it read: it binds at once.
        Assert.True((await a.FreezeAsync(Tenant, "user", "u3", null, "ops", freeze: true)).IsValid);
        Assert.Equal(AuthorizationOutcome.Deny, (await a.AuthorizeAsync(Request("u3"))).Value!.Outcome);

        // Another instance's freeze binds once A's set is older than the bound (1 s by default).
        Assert.True((await b.FreezeAsync(Tenant, "user", "u2", null, "ops", freeze: true)).IsValid);
        Time.Advance(TimeSpan.FromMilliseconds(1001));
        Assert.Equal(AuthorizationOutcome.Deny, (await a.AuthorizeAsync(Request("u2"))).Value!.Outcome);
        Assert.Equal(AuthorizationOutcome.Allow, (await a.AuthorizeAsync(Request("u1"))).Value!.Outcome);

        // Lifting is the same: at once on the instance that lifts, within the bound elsewhere.
        Assert.True((await a.FreezeAsync(Tenant, "user", "u3", null, "ops", freeze: false)).IsValid);
        Assert.Equal(AuthorizationOutcome.Allow, (await a.AuthorizeAsync(Request("u3"))).Value!.Outcome);
        Assert.True((await b.FreezeAsync(Tenant, "user", "u2", null, "ops", freeze: false)).IsValid);
        Time.Advance(TimeSpan.FromMilliseconds(1001));
        Assert.Equal(AuthorizationOutcome.Allow, (await a.AuthorizeAsync(Request("u2"))).Value!.Outcome);
    }

    [Fact]
    public async Task A_tenant_with_more_freezes_than_one_set_holds_has_them_read_per_key()
    {
        var b = Service(NewInstance());
        foreach (var user in new[] { "u1", "u2", "u3" })
        {
            Assert.True((await b.FreezeAsync(Tenant, "user", user, null, "ops", freeze: true)).IsValid);
        }

        var a = Service(Instance(new TableBudgetStoreOptions { FreezeSetLimit = 2 }));
        Assert.Equal(AuthorizationOutcome.Allow, (await a.AuthorizeAsync(Request("u4"))).Value!.Outcome);
        foreach (var user in new[] { "u1", "u2", "u3" })
        {
            Assert.Equal(AuthorizationOutcome.Deny, (await a.AuthorizeAsync(Request(user))).Value!.Outcome);
        }
    }
}
