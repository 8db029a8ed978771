using LlmCost.Core.Alerts;
using LlmCost.Core.Budgets;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace LlmCost.Core.Tests.Budgets;

/// <summary>
/// The budgets use cases against the in-memory store, with the cost estimator and the model catalog isolated by
/// Moq: "big" costs $0.01 worst case, "mid" $0.004, "small" $0.001, "cheap-other" (another provider) $0.002.
/// </summary>
public sealed class BudgetServiceTests
{
    private const string Tenant = "acme";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-06-10T08:00:00Z"));
    private readonly InMemorySpendHistory _history;
    private readonly InMemoryBudgetStore _store;
    private readonly BudgetService _service;

    public BudgetServiceTests()
    {
        _history = new InMemorySpendHistory(_time);
        _store = new InMemoryBudgetStore(_time, _history);
        var estimator = new Mock<IBudgetCostEstimator>();
        estimator
            .Setup(e => e.Estimate(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<string>(), It.IsAny<long>(), It.IsAny<long>(), It.IsAny<DateTimeOffset>()))
            .Returns((string _, string _, string model, long input, long max, DateTimeOffset _) => model switch
            {
                "big" => new WorstCase(true, 0.01m, input + max),
                "mid" => new WorstCase(true, 0.004m, input + max),
                "small" => new WorstCase(true, 0.001m, input + max),
                "cheap-other" => new WorstCase(true, 0.002m, input + max),
                _ => new WorstCase(false, 0m, input + max, $"unknown model {model}"),
            });
        var catalog = new Mock<IDowngradeCatalog> { CallBase = true }; // the sized overload defaults to the size-free list
        catalog.Setup(c => c.Candidates(It.IsAny<string>(), It.IsAny<string>()))
            .Returns([("other", "cheap-other"), ("openai", "small"), ("openai", "mid"), ("openai", "big")]);
        _service = new BudgetService(_store, _store, estimator.Object, catalog.Object, new SharedPromptTokenCounter(),
            _history.Forecaster(), _time, new BudgetOptions { ReservationTtl = TimeSpan.FromMinutes(5) });
    }

    private async Task<BudgetDefinition> Create(string amount, string mode = "hard", string period = "daily", string scope = "user", string scopeId = "u1", BudgetDraft? extra = null)
    {
        var draft = (extra ?? new BudgetDraft()) with { TenantId = Tenant, Scope = scope, ScopeId = scopeId, AmountUsd = amount, Period = period, Mode = mode };
        var result = await _service.CreateAsync(draft, "admin-key");
        Assert.True(result.IsValid, string.Join("; ", result.Errors.Select(e => e.Key + ": " + string.Join(",", e.Value))));
        return result.Value!;
    }

    private async Task<AuthorizationDecision> Authorize(string model = "big", string user = "u1", string? requestId = null, string? team = null)
    {
        var result = await _service.AuthorizeAsync(new AuthorizeRequest
        {
            TenantId = Tenant, UserId = user, TeamId = team, Provider = "openai", Model = model, InputTokens = 100, MaxTokens = 100, RequestId = requestId,
        });
        Assert.True(result.IsValid);
        return result.Value!;
    }

    private Task<SettlementResult> Record(string eventId, decimal cost, string? reservationId = null, DateTimeOffset? at = null, string user = "u1") =>
        _service.RecordUsageAsync(new BudgetUsage(Tenant, user, null, null, eventId, reservationId, at ?? _time.GetUtcNow(), cost, true, 150));

    private async Task<BudgetStatus> Status(BudgetDefinition budget, string? user = null) => (await _service.GetStatusAsync(budget.BudgetId, user))!.Value!;

    [Fact]
    public async Task Hard_budget_admits_what_fits_and_the_denial_names_the_budget()
    {
        var budget = await Create("0.05");

        var decisions = new List<AuthorizationDecision>();
        for (var i = 0; i < 6; i++)
        {
            decisions.Add(await Authorize());
        }

        Assert.All(decisions.Take(5), d => Assert.Equal(AuthorizationOutcome.Allow, d.Outcome));
        var denied = decisions[5];
        Assert.Equal(AuthorizationOutcome.Deny, denied.Outcome);
        Assert.Null(denied.ReservationId);
        Assert.Equal(budget.BudgetId, denied.LimitingBudgetId);
        Assert.Contains(budget.BudgetId, denied.Reason);
        Assert.Equal(0m, denied.Budgets.Single().RemainingUsd);
        Assert.Equal(0.05m, (await Status(budget)).ReservedUsd);
    }

    [Fact]
    public async Task A_retried_authorisation_with_the_same_request_id_reserves_once()
    {
        var budget = await Create("0.05");

        var first = await Authorize(requestId: "req-1");
        var retry = await Authorize(requestId: "req-1");

        Assert.Equal(first.ReservationId, retry.ReservationId);
        Assert.True(retry.Replayed);
        var status = await Status(budget);
        Assert.Equal(0.01m, status.ReservedUsd);
        Assert.Equal(1, status.ActiveReservations);
    }

    [Fact]
    public async Task Settlement_replaces_the_reservation_by_the_actual_cost_once()
    {
        var budget = await Create("0.05");
        var decision = await Authorize();

        var first = await Record("evt-1", 0.003m, decision.ReservationId);
        var again = await Record("evt-1", 0.003m, decision.ReservationId);

        Assert.Equal(SettlementOutcome.Applied, first.Outcome);
        Assert.True(first.ReservationReleased);
        Assert.Equal(SettlementOutcome.Duplicate, again.Outcome);
        var status = await Status(budget);
        Assert.Equal(0.003m, status.SpentUsd);
        Assert.Equal(0m, status.ReservedUsd);
        Assert.Equal(0.047m, status.RemainingUsd);
    }

    [Fact]
    public async Task Reservations_count_until_the_expiry_sweep_closes_them_and_a_late_event_still_counts()
    {
        var budget = await Create("0.02");
        var first = await Authorize();
        var second = await Authorize();
        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize()).Outcome);
        Assert.Equal(_time.GetUtcNow().AddMinutes(5), first.ExpiresAt);

        // Past the expiry the worst case still counts (the safe side) until the sweep closes it.
        _time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(0.02m, (await Status(budget)).ReservedUsd);
        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize()).Outcome);

        Assert.Equal(2, await _service.ExpireReservationsAsync());
        Assert.Equal(0, await _service.ExpireReservationsAsync());
        Assert.Equal(0m, (await Status(budget)).ReservedUsd);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);

        // A late event for an expired reservation still counts its actual cost, and says so.
        var late = await Record("evt-late", 0.007m, second.ReservationId);
        Assert.True(late.Late);
        Assert.False(late.ReservationReleased);
        var status = await Status(budget);
        Assert.Equal(0.007m, status.SpentUsd);
        Assert.Equal(0.01m, status.ReservedUsd);
        Assert.Equal(1, status.LateSettlements);
        Assert.Equal(1, status.ActiveReservations);
    }

    [Fact]
    public async Task A_late_settlement_that_overspends_a_hard_budget_is_recorded_and_alerted_and_blocks_admission()
    {
        var budget = await Create("0.02", extra: new BudgetDraft { Thresholds = ["200"], AlertOnProjectedOverrun = false });
        var first = await Authorize();
        var second = await Authorize();
        _time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(2, await _service.ExpireReservationsAsync());
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);

        // Both expired calls report afterwards: $0.02 reserved anew + $0.009 late = $0.029 against $0.02.
        var overspent = await Record("late-1", 0.009m, first.ReservationId);
        var again = await Record("late-2", 0.010m, second.ReservationId);

        var alert = Assert.Single(overspent.Alerts, a => a.Kind == AlertKinds.BudgetOverspend);
        Assert.Equal("0", alert.Details["overspent"]);
        Assert.Equal("0.009", alert.Details["overcommitted"]);
        Assert.DoesNotContain(again.Alerts, a => a.Kind == AlertKinds.BudgetOverspend);
        var status = await Status(budget);
        Assert.Equal(-0.019m, status.RemainingUsd);
        Assert.Equal(0.019m, status.SpentUsd);
        Assert.Equal(0.02m, status.ReservedUsd);
        Assert.Equal(2, status.LateSettlements);
        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize(model: "small")).Outcome);
        Assert.Contains(BudgetAlerts.OverspendKey, status.FiredAlerts);
    }

    [Fact]
    public async Task A_late_event_counts_in_the_period_it_happened_in()
    {
        var budget = await Create("1.00");
        var yesterday = _time.GetUtcNow().AddDays(-1);

        await Record("evt-yesterday", 0.25m, at: yesterday);

        Assert.Equal(0m, (await Status(budget)).SpentUsd);
        var window = BudgetPeriodCalculator.WindowFor(budget, yesterday)!.Value;
        var key = BudgetKeys.State(budget.BudgetId, "u1", window.Key);
        var partition = await _store.ReadAsync(Tenant, [key]);
        Assert.Equal(0.25m, partition.States[key].SpentUsd);
    }

    [Fact]
    public async Task Each_threshold_fires_once_per_period_with_a_stable_id()
    {
        var budget = await Create("1.00", mode: "soft", extra: new BudgetDraft { AlertOnProjectedOverrun = false });

        await Record("e1", 0.50m);
        var afterFirst = await _store.ListPendingAsync(Tenant, 100);
        await Record("e2", 0.30m);
        await Record("e2", 0.30m);
        await Record("e3", 0.30m);

        var pending = await _store.ListPendingAsync(Tenant, 100);
        Assert.Equal(["50"], afterFirst.Select(a => a.ThresholdPercent?.ToString("0", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal([50m, 75m, 90m, 100m], pending.Select(a => a.ThresholdPercent!.Value));
        Assert.All(pending, a => Assert.Equal(AlertKinds.BudgetThreshold, a.Kind));
        var window = BudgetPeriodCalculator.WindowFor(budget, _time.GetUtcNow())!.Value;
        Assert.Equal($"budget:{budget.BudgetId}:u1:{window.Key}:100", pending[3].AlertId);

        await _store.MarkDispatchedAsync(pending);
        await Record("e4", 0.30m);
        Assert.Empty(await _store.ListPendingAsync(Tenant, 100));

        // The next period fires again.
        _time.Advance(TimeSpan.FromDays(1));
        await Record("e5", 0.60m);
        Assert.Single(await _store.ListPendingAsync(Tenant, 100));
    }

    [Fact]
    public async Task Status_projects_at_the_periods_run_rate_without_daily_history_and_the_ledger_raises_no_projection()
    {
        // June has 30 days; on June 16 00:00 half of it has passed. No daily history: $6.50 in 15 days projects $13
        // (the forecaster's run rate, with its wide band), reaching $10 on June 24.
        _time.SetUtcNow(DateTimeOffset.Parse("2026-06-16T00:00:00Z"));
        var budget = await Create("10.00", mode: "soft", period: "monthly", extra: new BudgetDraft { Thresholds = ["90"] });

        await Record("e1", 6m);
        await Record("e2", 0.5m);

        // A projection is the timer's (it has the history); the ledger's write records only what was crossed.
        Assert.Empty(await _store.ListPendingAsync(Tenant, 100));
        var forecast = (await Status(budget)).Forecast!;
        Assert.Equal(("run_rate", 6.5m, 13m), (forecast.Method, forecast.SpentToDate, forecast.ProjectedTotal));
        Assert.InRange(forecast.Lower, 6.5m, 6.51m);
        Assert.InRange(forecast.Upper, 19.49m, 19.5m);
        Assert.Equal(new DateOnly(2026, 6, 24), forecast.ReachesOn(10m));
    }

    [Fact]
    public async Task Status_projects_from_the_subjects_daily_history_with_trend_and_day_of_week()
    {
        // $1 a day for the user since May 4 (four weeks before the period and every day of it so far); the ledger
        // has the $15 of June 1-15. The rest of June at $1/day: $30, the $20 limit reached on June 20.
        _time.SetUtcNow(DateTimeOffset.Parse("2026-06-16T00:00:00Z"));
        for (var day = new DateOnly(2026, 5, 4); day < new DateOnly(2026, 6, 16); day = day.AddDays(1))
        {
            _history.Add(Tenant, BudgetScope.User, "u1", day, 1m);
        }

        var budget = await Create("20.00", mode: "soft", period: "monthly");
        await Record("e1", 15m);

        var forecast = (await Status(budget)).Forecast!;
        Assert.Equal(("trend_dow", 28, 30m), (forecast.Method, forecast.TrainingDays, forecast.ProjectedTotal));
        Assert.Equal((30m, 30m), (forecast.Lower, forecast.Upper));
        Assert.Equal(new DateOnly(2026, 6, 20), forecast.ReachesOn(20m));
    }

    [Fact]
    public async Task Soft_budget_allows_over_the_limit_and_says_so()
    {
        var budget = await Create("0.005", mode: "soft");

        var decision = await Authorize();

        Assert.Equal(AuthorizationOutcome.Allow, decision.Outcome);
        Assert.Contains(budget.BudgetId, decision.Reason);
        Assert.NotNull(decision.ReservationId);
    }

    [Fact]
    public async Task Adaptive_budget_suggests_the_most_capable_cheaper_model_of_the_same_provider_first()
    {
        var budget = await Create("0.005", mode: "adaptive");

        var first = await Authorize();
        var second = await Authorize();
        var third = await Authorize();

        Assert.Equal(AuthorizationOutcome.Downgrade, first.Outcome);
        Assert.Equal("mid", first.SuggestedModel);
        Assert.Equal(0.004m, first.ReservedUsd);
        // $0.001 left: only "small" fits.
        Assert.Equal("small", second.SuggestedModel);
        Assert.Equal(AuthorizationOutcome.Deny, third.Outcome);
        Assert.Equal(budget.BudgetId, third.LimitingBudgetId);
    }

    [Fact]
    public async Task Adaptive_candidates_must_also_fit_hard_budgets()
    {
        await Create("0.005", mode: "adaptive");
        await Create("0.0015", mode: "hard", scope: "tenant", scopeId: Tenant);

        var decision = await Authorize();

        Assert.Equal(AuthorizationOutcome.Downgrade, decision.Outcome);
        Assert.Equal("small", decision.SuggestedModel);
        Assert.Equal(2, decision.Budgets.Count);
    }

    [Fact]
    public async Task An_unpriced_model_is_never_admitted_as_free_by_a_usd_hard_budget()
    {
        await Create("100.00");

        var decision = await Authorize(model: "mystery");

        Assert.Equal(AuthorizationOutcome.Deny, decision.Outcome);
        Assert.Contains("no price", decision.Reason);
    }

    [Fact]
    public async Task Per_request_budget_limits_each_request_alone()
    {
        await Create("0.005", period: "per_request");

        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize("big")).Outcome);
        var small = await Authorize("mid");
        Assert.Equal(AuthorizationOutcome.Allow, small.Outcome);
        Assert.Null(small.ReservationId);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize("mid")).Outcome);
    }

    [Fact]
    public async Task Token_budget_counts_input_plus_max_tokens()
    {
        var result = await _service.CreateAsync(new BudgetDraft { TenantId = Tenant, Scope = "user", ScopeId = "u1", TokenLimit = "450", Period = "hourly", Mode = "hard" }, "admin");
        Assert.True(result.IsValid);

        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
        var third = await Authorize();
        Assert.Equal(AuthorizationOutcome.Deny, third.Outcome);
        Assert.Equal(50, third.Budgets.Single().RemainingTokens);
    }

    [Fact]
    public async Task Freeze_denies_everything_until_lifted_and_both_are_audited()
    {
        await Create("10.00");
        await _service.FreezeAsync(Tenant, "user", "u1", "runaway agent", "ops-admin", freeze: true);

        var frozen = await Authorize();
        var otherUser = await Authorize(user: "u2");
        await _service.FreezeAsync(Tenant, "user", "u1", null, "ops-admin", freeze: false);
        var lifted = await Authorize();

        Assert.Equal(AuthorizationOutcome.Deny, frozen.Outcome);
        Assert.Equal("user 'u1' is frozen: runaway agent", frozen.Reason);
        Assert.Equal(AuthorizationOutcome.Allow, otherUser.Outcome);
        Assert.Equal(AuthorizationOutcome.Allow, lifted.Outcome);
        var audit = await _service.ListAuditAsync(Tenant, 10);
        Assert.Equal(["unfreeze", "freeze", "budget.create"], audit.Select(a => a.Action));
        Assert.All(audit.Take(2), a => Assert.Equal("ops-admin", a.Actor));
    }

    [Fact]
    public async Task Tenant_freeze_stops_every_user()
    {
        await _service.FreezeAsync(Tenant, "tenant", null, null, "ops-admin", freeze: true);

        var decision = await Authorize(user: "anyone");

        Assert.Equal(AuthorizationOutcome.Deny, decision.Outcome);
        Assert.StartsWith("tenant '*' is frozen", decision.Reason);
    }

    [Fact]
    public async Task Circuit_breaker_trips_on_a_burst_and_resets_after_the_cooldown()
    {
        var budget = await Create("100.00", mode: "soft", extra: new BudgetDraft
        {
            CircuitBreaker = new CircuitBreakerDraft { WindowSeconds = "60", Multiple = "5", NormalUsdPerWindow = "0.10", CooldownSeconds = "300" },
        });

        await Record("e1", 0.30m);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
        var trip = await Record("e2", 0.30m);

        Assert.Contains(trip.Alerts, a => a.Kind == AlertKinds.CircuitBreaker);
        var denied = await Authorize();
        Assert.Equal(AuthorizationOutcome.Deny, denied.Outcome);
        Assert.Contains("circuit breaker", denied.Reason);
        Assert.Equal(budget.BudgetId, denied.LimitingBudgetId);

        _time.Advance(TimeSpan.FromSeconds(300));
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
    }

    [Fact]
    public async Task Circuit_breaker_without_a_configured_normal_uses_the_period_average()
    {
        _time.SetUtcNow(DateTimeOffset.Parse("2026-06-11T00:00:00Z"));
        await Create("100.00", mode: "soft", extra: new BudgetDraft
        {
            CircuitBreaker = new CircuitBreakerDraft { WindowSeconds = "3600", Multiple = "3" },
        });

        // Four quiet hours at $0.10 each: the normal hour is $0.10.
        for (var hour = 0; hour < 4; hour++)
        {
            Assert.DoesNotContain((await Record($"q{hour}", 0.10m)).Alerts, a => a.Kind == AlertKinds.CircuitBreaker);
            _time.Advance(TimeSpan.FromHours(1));
        }

        Assert.DoesNotContain((await Record("b1", 0.30m)).Alerts, a => a.Kind == AlertKinds.CircuitBreaker);
        Assert.Contains((await Record("b2", 0.01m)).Alerts, a => a.Kind == AlertKinds.CircuitBreaker);
    }

    [Fact]
    public async Task A_profile_that_would_pass_the_budgets_per_request_cap_is_refused_whole_and_leaves_nothing_behind()
    {
        Validated<IReadOnlyList<BudgetDefinition>> applied;
        int before;
        do
        {
            before = (await _service.ListAsync(Tenant)).Count;
            applied = await _service.ApplyProfileAsync(Tenant, "development", "admin");
        }
        while (applied.IsValid && before < 100);

        Assert.False(applied.IsValid);
        Assert.Contains("scope", applied.Errors.Keys);
        Assert.Equal(before, (await _service.ListAsync(Tenant)).Count);
    }

    [Fact]
    public async Task New_users_inherit_the_profile_and_users_with_their_own_budget_do_not()
    {
        var applied = await _service.ApplyProfileAsync(Tenant, "development", "admin");
        Assert.True(applied.IsValid);
        await Create("0.01", scopeId: "vip");

        var newcomer = await Authorize(user: "newcomer");
        var vip = await Authorize(user: "vip");

        Assert.Equal(2, newcomer.Budgets.Count);
        Assert.All(newcomer.Budgets, b => Assert.Equal("newcomer", b.Subject));
        Assert.Equal(4.99m, newcomer.Budgets.Single(b => b.PeriodKey is not null).RemainingUsd);
        Assert.Equal("vip", Assert.Single(vip.Budgets).Subject);
        var inherited = applied.Value!.First(b => b.Period == BudgetPeriod.Daily);
        Assert.Equal(0.01m, (await Status(inherited, "newcomer")).ReservedUsd);
        Assert.Equal(0m, (await Status(inherited, "someone-else")).ReservedUsd);
    }

    [Fact]
    public async Task Team_and_tenant_budgets_apply_and_every_scope_gets_the_reservation()
    {
        var team = await Create("0.015", scope: "team", scopeId: "t1");
        var tenant = await Create("1.00", scope: "tenant", scopeId: Tenant);

        var first = await Authorize(team: "t1");
        var second = await Authorize(team: "t1");
        var otherTeam = await Authorize(team: "t2");

        Assert.Equal(AuthorizationOutcome.Allow, first.Outcome);
        Assert.Equal(AuthorizationOutcome.Deny, second.Outcome);
        Assert.Equal(team.BudgetId, second.LimitingBudgetId);
        Assert.Equal(AuthorizationOutcome.Allow, otherTeam.Outcome);
        Assert.Equal(0.02m, (await Status(tenant)).ReservedUsd);
    }

    [Fact]
    public async Task Concurrent_authorisations_never_admit_more_than_the_budget()
    {
        var budget = await Create("1.00");

        var decisions = await Task.WhenAll(Enumerable.Range(0, 600).Select(_ => Task.Run(() => Authorize())));

        Assert.Equal(100, decisions.Count(d => d.Outcome == AuthorizationOutcome.Allow));
        Assert.Equal(100, decisions.Select(d => d.ReservationId).OfType<string>().Distinct().Count());
        Assert.Equal(1.00m, (await Status(budget)).ReservedUsd);
    }

    [Theory]
    [InlineData("scope", "galaxy")]
    [InlineData("period", "fortnightly")]
    [InlineData("mode", "maybe")]
    [InlineData("timezone", "Mars/Olympus")]
    [InlineData("amount_usd", "-1")]
    [InlineData("amount_usd", "1e3")]
    public async Task Invalid_budgets_are_rejected_naming_the_field(string field, string value)
    {
        var draft = new BudgetDraft { TenantId = Tenant, Scope = "user", ScopeId = "u1", AmountUsd = "1.00", Period = "daily", Mode = "hard", TimeZone = "UTC" };
        draft = field switch
        {
            "scope" => draft with { Scope = value },
            "period" => draft with { Period = value },
            "mode" => draft with { Mode = value },
            "timezone" => draft with { TimeZone = value },
            _ => draft with { AmountUsd = value },
        };

        var result = await _service.CreateAsync(draft, "admin");

        Assert.False(result.IsValid);
        Assert.Equal([field], result.Errors.Keys);
        Assert.Empty(await _service.ListAsync(Tenant));
    }

    [Fact]
    public async Task Authorisation_needs_exactly_one_input_and_max_tokens()
    {
        var result = await _service.AuthorizeAsync(new AuthorizeRequest { TenantId = Tenant, UserId = "u1", Provider = "openai", Model = "big", InputTokens = 5, Prompt = "hi" });

        Assert.False(result.IsValid);
        Assert.Contains("input_tokens", result.Errors.Keys);
        Assert.Contains("max_tokens", result.Errors.Keys);
    }

    [Fact]
    public async Task Update_and_delete_are_audited_and_delete_stops_enforcement()
    {
        var budget = await Create("0.01");
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize()).Outcome);

        var updated = await _service.UpdateAsync(budget.BudgetId, new BudgetDraft { Scope = "user", ScopeId = "u1", AmountUsd = "0.02", Period = "daily", Mode = "hard" }, "admin2");
        Assert.True(updated!.IsValid);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
        Assert.True(await _service.DeleteAsync(budget.BudgetId, "admin3"));
        Assert.Empty((await Authorize()).Budgets);

        var audit = await _service.ListAuditAsync(Tenant, 10);
        Assert.Equal([("budget.delete", "admin3"), ("budget.update", "admin2"), ("budget.create", "admin-key")], audit.Select(a => (a.Action, a.Actor)));
        Assert.Equal("0.02", audit[1].Details["amount_usd"]);
    }

    [Fact]
    public async Task Prompt_tokens_are_counted_when_no_count_is_given()
    {
        await Create("1.00");

        var result = await _service.AuthorizeAsync(new AuthorizeRequest
        {
            TenantId = Tenant, UserId = "u1", Provider = "openai", Model = "big",
            Messages = [new PromptMessage("user", "Hello world")], MaxTokens = 10,
        });

        // o200k: "user" = 1 token, "Hello world" = 2 tokens; framing 3 + 3 per message: 9 input + 10 max.
        Assert.Equal(19, result.Value!.ReservedTokens);
    }

    [Fact]
    public async Task A_null_or_incomplete_message_is_refused_naming_messages()
    {
        await Create("1.00");

        // The request is bound straight from the caller's JSON: "messages": [null] reaches Core as a null element.
        foreach (PromptMessage? message in new[] { null, new PromptMessage(null, "Hello"), new PromptMessage("user", null), new PromptMessage("", "Hello") })
        {
            var result = await _service.AuthorizeAsync(new AuthorizeRequest
            {
                TenantId = Tenant, UserId = "u1", Provider = "openai", Model = "big",
                Messages = [message!], MaxTokens = 10,
            });

            Assert.False(result.IsValid);
            Assert.Equal(["messages"], result.Errors.Keys);
        }
    }

    [Fact]
    public async Task An_admin_reset_lifts_a_tripped_breaker_and_is_audited()
    {
        var budget = await Create("100.00", mode: "soft", extra: new BudgetDraft
        {
            CircuitBreaker = new CircuitBreakerDraft { WindowSeconds = "60", Multiple = "2", NormalUsdPerWindow = "0.10", CooldownSeconds = "3600" },
        });
        await Record("burst", 0.50m);
        Assert.Equal(AuthorizationOutcome.Deny, (await Authorize()).Outcome);

        var status = await _service.ResetBreakerAsync(budget.BudgetId, null, "ops-admin");

        Assert.Null(status!.Value!.TrippedUntil);
        Assert.Equal(AuthorizationOutcome.Allow, (await Authorize()).Outcome);
        Assert.Equal("breaker.reset", (await _service.ListAuditAsync(Tenant, 1))[0].Action);
    }

    [Fact]
    public async Task A_settled_event_counts_against_the_key_its_reservation_was_made_with()
    {
        var keyBudget = await Create("1.00", scope: "key", scopeId: "key-7");
        var decision = (await _service.AuthorizeAsync(new AuthorizeRequest
        {
            TenantId = Tenant, UserId = "u1", KeyId = "key-7", Provider = "openai", Model = "big", InputTokens = 100, MaxTokens = 100,
        })).Value!;
        Assert.Equal(0.01m, (await Status(keyBudget)).ReservedUsd);

        // The event need not repeat the key id for its cost to count against the key: the reservation knows it.
        await Record("evt-key", 0.006m, decision.ReservationId);

        var status = await Status(keyBudget);
        Assert.Equal(0.006m, status.SpentUsd);
        Assert.Equal(0m, status.ReservedUsd);
    }
}
