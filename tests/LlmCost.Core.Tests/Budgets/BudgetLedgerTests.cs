using LlmCost.Core.Alerts;
using LlmCost.Core.Budgets;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace LlmCost.Core.Tests.Budgets;

/// <summary>
/// The escrow ledger against the in-memory store, which runs every command on the next lane in turn (so refills,
/// gathers and deficit covers happen as they do when instances compete). "big" costs $0.01 worst case, "small"
/// $0.001; the spend history is a fake whose figures the tests choose.
/// </summary>
public sealed class BudgetLedgerTests
{
    private const string Tenant = "acme";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-06-10T08:00:00Z"));
    private readonly Mock<IBudgetSpendHistory> _history = new();
    private readonly InMemoryBudgetStore _store;
    private readonly BudgetService _service;

    public BudgetLedgerTests()
    {
        _history.Setup(h => h.ReadAsync(It.IsAny<string>(), It.IsAny<BudgetScope>(), It.IsAny<string>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => RecordedSpend.None(_time.GetUtcNow()));
        _store = new InMemoryBudgetStore(_time, _history.Object);
        var estimator = new Mock<IBudgetCostEstimator>();
        estimator
            .Setup(e => e.Estimate(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<string>(), It.IsAny<long>(), It.IsAny<long>(), It.IsAny<DateTimeOffset>()))
            .Returns((string _, string _, string model, long input, long max, DateTimeOffset _) => model switch
            {
                "big" => new WorstCase(true, 0.01m, input + max),
                "small" => new WorstCase(true, 0.001m, input + max),
                _ => new WorstCase(false, 0m, input + max, "unknown model"),
            });
        var catalog = new Mock<IDowngradeCatalog>();
        catalog.Setup(c => c.Candidates(It.IsAny<string>(), It.IsAny<string>())).Returns([]);
        _service = new BudgetService(_store, _store, estimator.Object, catalog.Object, new SharedPromptTokenCounter(),
            new InMemorySpendHistory(_time).Forecaster(), _time, new BudgetOptions { ReservationTtl = TimeSpan.FromMinutes(5), DefinitionCacheTtl = TimeSpan.Zero });
    }

    private async Task<BudgetDefinition> Create(string amount, string scope = "tenant", string scopeId = Tenant, string mode = "hard", string period = "daily")
    {
        var result = await _service.CreateAsync(new BudgetDraft { TenantId = Tenant, Scope = scope, ScopeId = scopeId, AmountUsd = amount, Period = period, Mode = mode }, "admin");
        Assert.True(result.IsValid, string.Join("; ", result.Errors.SelectMany(e => e.Value)));
        return result.Value!;
    }

    private async Task<AuthorizationDecision> Authorize(string user = "u1", string model = "big", long? ttl = null)
    {
        var result = await _service.AuthorizeAsync(new AuthorizeRequest
        {
            TenantId = Tenant, UserId = user, Provider = "openai", Model = model, InputTokens = 100, MaxTokens = 100, TtlSeconds = ttl,
        });
        Assert.True(result.IsValid, string.Join("; ", result.Errors.SelectMany(e => e.Value)));
        return result.Value!;
    }

    private Task<SettlementResult> Record(string eventId, decimal cost, string? reservationId = null, string user = "u1", DateTimeOffset? recordedAt = null) =>
        _service.RecordUsageAsync(new BudgetUsage(Tenant, user, null, null, eventId, reservationId, _time.GetUtcNow(), cost, true, 150, recordedAt ?? _time.GetUtcNow()));

    private async Task<BudgetStatus> Status(BudgetDefinition budget, string? user = null) => (await _service.GetStatusAsync(budget.BudgetId, user))!.Value!;

    [Fact]
    public async Task Open_reservations_spread_over_lanes_add_up_exactly_and_the_last_fitting_one_is_found_in_another_lane()
    {
        var budget = await Create("3.00");

        var decisions = new List<AuthorizationDecision>();
        for (var i = 0; i < 320; i++)
        {
            decisions.Add(await Authorize(user: $"user-{i % 7}"));
        }

        // $3.00 fits exactly 300 worst cases of $0.01, wherever their lanes' grants ended up.
        Assert.Equal(300, decisions.Count(d => d.Outcome == AuthorizationOutcome.Allow));
        Assert.All(decisions.Skip(300), d => Assert.Equal(AuthorizationOutcome.Deny, d.Outcome));
        var status = await Status(budget);
        Assert.Equal(3.00m, status.ReservedUsd);
        Assert.Equal(300, status.ActiveReservations);
        Assert.Equal(0m, status.RemainingUsd);
        var lanes = (await _store.ReadAsync(Tenant, [.. BudgetKeys.Lanes(BudgetKeys.State(budget.BudgetId, Tenant, BudgetPeriodCalculator.WindowFor(budget, _time.GetUtcNow())!.Value.Key), LedgerLimits.DefaultLanes)])).Lanes.Values.ToList();
        Assert.True(lanes.Count > 1, "reservations went to more than one lane");
        Assert.Equal(300, lanes.Sum(l => l.Open));
        Assert.All(lanes, l => Assert.True(l.ReservedUsd <= l.Grant, $"lane {l.Index} holds {l.ReservedUsd} > its grant {l.Grant}"));

        // Settling one frees exactly its unused worst case, in whatever lane it was.
        await Record("e-1", 0.004m, decisions[17].ReservationId, user: "user-3");
        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize()).Outcome);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize(model: "small")).Outcome);
        status = await Status(budget);
        Assert.Equal(0.004m, status.SpentUsd);
        Assert.Equal(2.991m, status.ReservedUsd);
        Assert.Equal(0.005m, status.RemainingUsd);
    }

    [Fact]
    public async Task A_caller_chosen_lifetime_is_told_and_out_of_range_lifetimes_are_refused_naming_the_field()
    {
        await Create("1.00");

        var decision = await Authorize(ttl: 30);
        var tooLong = await _service.AuthorizeAsync(new AuthorizeRequest { TenantId = Tenant, UserId = "u1", Provider = "openai", Model = "big", InputTokens = 1, MaxTokens = 1, TtlSeconds = 86401 });
        var zero = await _service.AuthorizeAsync(new AuthorizeRequest { TenantId = Tenant, UserId = "u1", Provider = "openai", Model = "big", InputTokens = 1, MaxTokens = 1, TtlSeconds = 0 });

        Assert.Equal(_time.GetUtcNow().AddSeconds(30), decision.ExpiresAt);
        Assert.Equal(["ttl_seconds"], tooLong.Errors.Keys);
        Assert.Equal(["ttl_seconds"], zero.Errors.Keys);
    }

    [Fact]
    public async Task A_released_reservation_stops_counting_at_once_and_only_its_own_tenant_and_user_can_release_it()
    {
        var budget = await Create("0.01");
        var decision = await Authorize();
        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize()).Outcome);

        var foreignUser = await _service.ReleaseReservationAsync(Tenant, decision.ReservationId, "someone-else");
        var foreignTenant = await _service.ReleaseReservationAsync("globex", decision.ReservationId, null);
        var released = await _service.ReleaseReservationAsync(Tenant, decision.ReservationId, "u1");
        var again = await _service.ReleaseReservationAsync(Tenant, decision.ReservationId, "u1");
        var garbage = await _service.ReleaseReservationAsync(Tenant, "not-a-reservation", null);

        Assert.Equal(ReleaseOutcome.NotFound, foreignUser.Value!.Outcome);
        Assert.Equal(ReleaseOutcome.NotFound, foreignTenant.Value!.Outcome);
        Assert.Equal(ReleaseOutcome.Released, released.Value!.Outcome);
        Assert.Equal(ReleaseOutcome.AlreadyClosed, again.Value!.Outcome);
        Assert.Equal(["reservation_id"], garbage.Errors.Keys);
        Assert.Equal(0m, (await Status(budget)).ReservedUsd);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
        Assert.Equal(0, await _service.ExpireReservationsAsync());

        // Its event arriving anyway still counts (a late settlement), never silently dropped.
        var late = await Record("after-release", 0.003m, decision.ReservationId);
        Assert.True(late.Late);
        Assert.Equal(0.003m, (await Status(budget)).SpentUsd);
    }

    [Fact]
    public async Task A_budget_created_mid_period_starts_from_the_spend_already_recorded_and_counts_nothing_twice()
    {
        var cutoff = _time.GetUtcNow();
        _history.Setup(h => h.ReadAsync(Tenant, BudgetScope.Tenant, Tenant, It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(new RecordedSpend(cutoff, 0.75m, 9000, 12, 1));

        var budget = await Create("1.00");

        var status = await Status(budget);
        Assert.Equal(0.75m, status.SpentUsd);
        Assert.Equal(0.75m, status.SeededUsd);
        Assert.Equal(cutoff, status.SeedCutoff);
        Assert.Equal(12, status.EventCount);
        _history.Verify(h => h.ReadAsync(Tenant, BudgetScope.Tenant, Tenant, DateTimeOffset.Parse("2026-06-10T00:00:00Z"), It.IsAny<CancellationToken>()), Times.Once);

        // An event acknowledged before the cutoff is in the seed; one acknowledged at or after it is not.
        var inSeed = await Record("before", 0.10m, recordedAt: cutoff.AddMilliseconds(-1));
        var counted = await Record("after", 0.05m, recordedAt: cutoff);
        Assert.Equal(SettlementOutcome.Applied, inSeed.Outcome);
        Assert.Equal(0.80m, (await Status(budget)).SpentUsd);
        Assert.Equal(SettlementOutcome.Applied, counted.Outcome);

        // $0.20 left: 20 worst cases of $0.01.
        var decisions = new List<AuthorizationDecision>();
        for (var i = 0; i < 25; i++)
        {
            decisions.Add(await Authorize());
        }

        Assert.Equal(20, decisions.Count(d => d.Outcome == AuthorizationOutcome.Allow));

        // The next period starts from zero, without reading the history again.
        _time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(0m, (await Status(budget)).SpentUsd);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
        _history.Verify(h => h.ReadAsync(It.IsAny<string>(), It.IsAny<BudgetScope>(), It.IsAny<string>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task An_every_user_budget_seeds_each_user_at_their_first_use()
    {
        _history.Setup(h => h.ReadAsync(Tenant, BudgetScope.User, "heavy", It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => new RecordedSpend(_time.GetUtcNow(), 0.995m, 100, 3, 0));
        var budget = await Create("1.00", scope: "user", scopeId: "*");

        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize(user: "heavy")).Outcome);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize(user: "light")).Outcome);
        Assert.Equal(0.995m, (await Status(budget, "heavy")).SpentUsd);
        Assert.Equal(0m, (await Status(budget, "light")).SpentUsd);
    }

    [Fact]
    public async Task A_lowered_limit_binds_at_the_next_decision_whatever_the_lanes_were_granted()
    {
        var budget = await Create("1.00");
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
        }

        _time.Advance(TimeSpan.FromSeconds(1));
        var updated = await _service.UpdateAsync(budget.BudgetId, new BudgetDraft { Scope = "tenant", ScopeId = Tenant, AmountUsd = "0.105", Period = "daily", Mode = "hard" }, "admin");
        Assert.True(updated!.IsValid);

        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize(model: "small")).Outcome);
        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize()).Outcome);
        var status = await Status(budget);
        Assert.Equal(0.101m, status.ReservedUsd);
        Assert.Equal(0.004m, status.RemainingUsd);
    }

    [Fact]
    public async Task A_call_costing_more_than_its_worst_case_near_the_limit_takes_back_free_grants_and_is_alerted()
    {
        var budget = await Create("0.05");
        var decisions = new List<AuthorizationDecision>();
        for (var i = 0; i < 4; i++)
        {
            decisions.Add(await Authorize());
        }

        // One call reports $0.03 against its $0.01 worst case: $0.03 spent + $0.03 still reserved = $0.06 > $0.05.
        var result = await Record("costly", 0.03m, decisions[0].ReservationId);

        Assert.Contains(result.Alerts, a => a.Kind == AlertKinds.BudgetOverspend && a.Details["overcommitted"] == "0.01");
        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize(model: "small")).Outcome);
        await Record("cheap", 0.001m, decisions[1].ReservationId);
        await Record("cheap-2", 0.001m, decisions[2].ReservationId);
        // $0.032 spent + $0.01 reserved: $0.008 free again.
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize(model: "small")).Outcome);
        var status = await Status(budget);
        Assert.Equal(0.032m, status.SpentUsd);
        Assert.Equal(0.011m, status.ReservedUsd);
    }

    [Fact]
    public async Task More_than_eight_period_budgets_that_could_apply_to_one_request_are_refused_naming_the_scope()
    {
        for (var i = 0; i < 4; i++)
        {
            await Create("10", period: i % 2 == 0 ? "daily" : "monthly");
        }

        for (var i = 0; i < 4; i++)
        {
            await Create("10", scope: "user", scopeId: "u1", period: "weekly");
        }

        var ninth = await _service.CreateAsync(new BudgetDraft { TenantId = Tenant, Scope = "team", ScopeId = "red", AmountUsd = "1", Period = "daily", Mode = "hard" }, "admin");
        var perRequest = await _service.CreateAsync(new BudgetDraft { TenantId = Tenant, Scope = "team", ScopeId = "red", AmountUsd = "1", Period = "per_request", Mode = "hard" }, "admin");

        Assert.Equal(["scope"], ninth.Errors.Keys);
        Assert.Contains("at most 8", ninth.Errors["scope"][0]);
        Assert.True(perRequest.IsValid);
        Assert.Equal(9, (await _service.ListAsync(Tenant)).Count);
    }

    [Fact]
    public async Task A_batch_counts_each_event_once_even_when_it_repeats_inside_the_batch_and_later()
    {
        var budget = await Create("10.00");
        var reservation = (await Authorize()).ReservationId;
        var now = _time.GetUtcNow();
        BudgetUsage Usage(string id, decimal cost, string? rsv = null) => new(Tenant, "u1", null, null, id, rsv, now, cost, true, 10, now);

        var first = await _service.RecordUsageAsync([Usage("a", 1m), Usage("b", 2m, reservation), Usage("a", 1m), Usage("c", 4m)]);
        var redelivered = await _service.RecordUsageAsync([Usage("c", 4m), Usage("b", 2m, reservation), Usage("d", 0.5m)]);

        Assert.Equal([SettlementOutcome.Applied, SettlementOutcome.Applied, SettlementOutcome.Duplicate, SettlementOutcome.Applied], first.Select(r => r.Outcome));
        Assert.True(first[1].ReservationReleased);
        Assert.Equal([SettlementOutcome.Duplicate, SettlementOutcome.Duplicate, SettlementOutcome.Applied], redelivered.Select(r => r.Outcome));
        var status = await Status(budget);
        Assert.Equal(7.5m, status.SpentUsd);
        Assert.Equal(4, status.EventCount);
        Assert.Equal(0m, status.ReservedUsd);
    }

    [Fact]
    public async Task The_admission_check_refuses_unknown_and_foreign_reservations_and_a_wrong_key_naming_the_field()
    {
        await Create("10.00");
        var alices = (await Authorize(user: "alice")).ReservationId!;
        var keyed = (await _service.AuthorizeAsync(new AuthorizeRequest { TenantId = Tenant, UserId = "alice", KeyId = "k1", Provider = "openai", Model = "big", InputTokens = 1, MaxTokens = 1 })).Value!.ReservationId!;
        var check = new ReservationAdmissionCheck(_store);
        UsageEvent Event(string user, string? reservation, string? key = null, string tenant = Tenant) => new()
        {
            EventId = Guid.NewGuid().ToString("N"), TenantId = tenant, UserId = user, Provider = "openai", Model = "m",
            Timestamp = _time.GetUtcNow(), Usage = new CanonicalUsage { InputTokens = 10, OutputTokens = 5 }, ReservationId = reservation, KeyId = key,
        };

        var problems = await check.CheckAsync(
        [
            Event("alice", alices),
            Event("bob", alices),
            Event("alice", "rsv_20260610000000000000000000000000"),
            Event("alice", "not-ours"),
            Event("alice", alices, tenant: "globex"),
            Event("alice", keyed),
            Event("alice", keyed, key: "k2"),
            Event("alice", keyed, key: "k1"),
            Event("bob", null),
        ]);

        Assert.Equal([(1, "reservation_id"), (2, "reservation_id"), (3, "reservation_id"), (4, "reservation_id"), (5, "key_id"), (6, "key_id")],
            problems.Select(p => (p.Index, p.Field)));
    }

    [Fact]
    public async Task Forgetting_a_user_releases_their_holds_from_shared_totals_and_deletes_their_own_state()
    {
        var tenant = await Create("1.00");
        var everyUser = await Create("0.50", scope: "user", scopeId: "*");
        var own = await Create("0.30", scope: "user", scopeId: "gone");
        await Authorize(user: "gone");
        await Authorize(user: "gone");
        await Authorize(user: "stays");
        await Record("gone-1", 0.002m, user: "gone");
        await _service.FreezeAsync(Tenant, "user", "gone", "asked to leave", "admin", freeze: true);

        var erased = await _service.ForgetUserAsync(Tenant, "gone");

        Assert.Equal(2, erased.ReleasedReservations);
        Assert.Equal(1, erased.DeletedRows["budgets"]);
        Assert.Equal(1, erased.DeletedRows["freezes"]);
        Assert.True(erased.DeletedRows["states"] >= 1);
        var tenantStatus = await Status(tenant);
        Assert.Equal(0.01m, tenantStatus.ReservedUsd);
        Assert.Equal(0.002m, tenantStatus.SpentUsd);
        Assert.Null(await _service.GetAsync(own.BudgetId));
        Assert.Equal(0m, (await Status(everyUser, "gone")).SpentUsd);
        Assert.Equal(0.01m, (await Status(everyUser, "stays")).ReservedUsd);
        Assert.Empty(await _store.ListUserReservationsAsync(Tenant, "gone"));
        Assert.Empty(await _store.ListFreezesAsync(Tenant));
    }

    [Fact]
    public async Task Markers_and_closed_reservations_are_pruned_only_after_their_retention()
    {
        var budget = await Create("10.00");
        var decision = await Authorize();
        await Record("kept", 0.001m, decision.ReservationId);

        _time.Advance(TimeSpan.FromDays(6));
        Assert.Equal(0, await _service.PruneAsync());
        Assert.Equal(SettlementOutcome.Duplicate, (await _service.RecordUsageAsync(new BudgetUsage(Tenant, "u1", null, null, "kept", decision.ReservationId, _time.GetUtcNow().AddDays(-6), 0.001m, true, 150))).Outcome);

        _time.Advance(TimeSpan.FromDays(2));
        Assert.Equal(1, await _service.PruneAsync());
        _time.Advance(TimeSpan.FromDays(28));
        Assert.Equal(1, await _service.PruneAsync());
        Assert.Empty(await _store.ListUserReservationsAsync(Tenant, "u1"));
        Assert.Equal(0.001m, (await _store.ReadAsync(Tenant, [BudgetKeys.State(budget.BudgetId, Tenant, "20260610T0000Z")])).States.Values.Single().SpentUsd);
    }
}
