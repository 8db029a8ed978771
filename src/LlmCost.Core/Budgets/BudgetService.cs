// Long on purpose: the budgets use cases (definitions with audit, authorise, settle, release, expiry, freezes, status,
// erasure) share one definition cache and one set of guard rules; each method is short and the rules live in the pure
// types it calls (BudgetValidator, BudgetAuthorizer, the ledger commands).
using System.Collections.Concurrent;
using LlmCost.Core.Audit;

namespace LlmCost.Core.Budgets;

public sealed record BudgetOptions
{
    /// <summary>How long an unsettled reservation counts at least when the caller does not choose (ttl_seconds).</summary>
    public TimeSpan ReservationTtl { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The longest lifetime a caller may choose for a reservation.</summary>
    public TimeSpan MaxReservationTtl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long an applied-event marker is kept after its event was applied. Re-delivery of an event to the budgets
    /// comes only from the ingest log's pending row, which is deleted right after the budgets applied it; a marker
    /// older than this can no longer meet its event again.
    /// </summary>
    public TimeSpan AppliedEventRetention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How long a closed reservation is kept after it was made (a usage event may name it until then).</summary>
    public TimeSpan ReservationRetention { get; init; } = TimeSpan.FromDays(35);

    /// <summary>How long another instance may keep using a cached budget definition list.</summary>
    public TimeSpan DefinitionCacheTtl { get; init; } = TimeSpan.FromSeconds(5);

    public long MaxTokensLimit { get; init; } = 10_000_000;

    /// <summary>
    /// How long an authorisation on this instance keeps adding usage it acknowledged and the ledger has not yet
    /// counted (<see cref="UnappliedBudgetSpend"/>): far longer than the projector's lag, which is sub-second.
    /// </summary>
    public TimeSpan UnappliedSpendHorizon { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The configured default every-user monthly budget (<c>LlmCost:Budgets:Defaults</c>); null = none.</summary>
    public DefaultMonthlyBudget? DefaultMonthly { get; init; }
}

/// <summary>
/// An authorisation request as the caller sent it: the HTTP endpoint binds it directly (snake_case JSON), so this is
/// the one record of the request's wire shape.
/// </summary>
public sealed record AuthorizeRequest
{
    public string? TenantId { get; init; }
    public string? UserId { get; init; }
    public string? TeamId { get; init; }
    public string? KeyId { get; init; }
    public string? Provider { get; init; }
    public string? Model { get; init; }
    public long? InputTokens { get; init; }
    public string? Prompt { get; init; }
    public IReadOnlyList<PromptMessage>? Messages { get; init; }
    public long? MaxTokens { get; init; }

    /// <summary>The caller's idempotency key: a retry with the same one gets the same reservation.</summary>
    public string? RequestId { get; init; }

    /// <summary>How long the reservation must count at least (1 s to <see cref="BudgetOptions.MaxReservationTtl"/>); null = the default.</summary>
    public long? TtlSeconds { get; init; }
}

/// <summary>A stored usage event, as the budgets need it (from the ingestion observer).</summary>
/// <param name="RecordedAt">When the event was acknowledged; default = unknown (counted everywhere).</param>
public sealed record BudgetUsage(
    string TenantId,
    string UserId,
    string? TeamId,
    string? KeyId,
    string EventId,
    string? ReservationId,
    DateTimeOffset Timestamp,
    decimal CostUsd,
    bool Priced,
    long Tokens,
    DateTimeOffset RecordedAt = default);

public enum ReleaseOutcome
{
    Released,

    /// <summary>Already settled, expired or released: nothing changed.</summary>
    AlreadyClosed,

    /// <summary>No such reservation for this tenant (and user).</summary>
    NotFound,
}

public sealed record ReleaseResult(ReleaseOutcome Outcome);

public sealed record BudgetStatus
{
    public required BudgetDefinition Budget { get; init; }
    public required string Subject { get; init; }
    public PeriodWindow? Window { get; init; }
    public decimal SpentUsd { get; init; }
    public decimal ReservedUsd { get; init; }
    public decimal? RemainingUsd { get; init; }
    public long SpentTokens { get; init; }
    public long ReservedTokens { get; init; }
    public long? RemainingTokens { get; init; }
    /// <summary>The period's projection (USD or tokens, as the budget) with its interval; null when there is no period.</summary>
    public Forecasting.SpendForecast? Forecast { get; init; }

    public long ActiveReservations { get; init; }
    public long EventCount { get; init; }
    public long UnpricedEvents { get; init; }
    public IReadOnlyList<string> FiredAlerts { get; init; } = [];
    public DateTimeOffset? TrippedUntil { get; init; }

    /// <summary>Actual spend beyond the limit (USD or tokens, as the budget), 0 when within it.</summary>
    public decimal Overspent { get; init; }

    /// <summary>Events that settled after their reservation had expired or been released.</summary>
    public long LateSettlements { get; init; }

    /// <summary>Spend recorded before the budget existed that its first period started from, and when it was read.</summary>
    public decimal SeededUsd { get; init; }

    public long SeededTokens { get; init; }
    public DateTimeOffset? SeedCutoff { get; init; }
}

/// <summary>
/// The budgets use cases: definitions (with audit), pre-request authorisation, settlement by usage events,
/// expiry, freezes and status. Business rules live here and in the pure types it calls; the host only parses
/// and maps outcomes; storage only loads and writes rows.
/// </summary>
public sealed class BudgetService(
    IBudgetRepository repository,
    IBudgetLedger ledger,
    IBudgetCostEstimator estimator,
    IDowngradeCatalog downgrades,
    IPromptTokenCounter tokenCounter,
    Forecasting.BudgetForecaster forecaster,
    TimeProvider time,
    BudgetOptions options,
    UnappliedBudgetSpend? unapplied = null) : IBudgetUserData
{
    private const int CloseChunk = 40;

    private readonly ConcurrentDictionary<string, (DateTimeOffset LoadedAt, Task<IReadOnlyList<BudgetDefinition>> Budgets)> _cache = new(StringComparer.Ordinal);

    public BudgetOptions Options => options;

    public async Task<Validated<BudgetDefinition>> CreateAsync(BudgetDraft draft, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var now = time.GetUtcNow();
        var id = BudgetValidator.IsValidId(draft.TenantId) ? BudgetValidator.NewBudgetId(draft.TenantId!) : string.Empty;
        var validated = BudgetValidator.Validate(draft, id, now, actor);
        if (!validated.IsValid)
        {
            return validated;
        }

        var budget = validated.Value!;
        if (await TooManyApplicableAsync(budget, cancellationToken).ConfigureAwait(false) is { } problem)
        {
            return Validated<BudgetDefinition>.Fail("scope", problem);
        }

        await repository.SaveAsync(budget, AuditEntry.Create(budget.TenantId, actor, "budget.create", "budget", budget.BudgetId, now, Describe(budget)), create: true, cancellationToken).ConfigureAwait(false);
        Invalidate(budget.TenantId);
        await OpenFirstPeriodAsync(budget, cancellationToken).ConfigureAwait(false);
        return validated;
    }

    /// <summary>
    /// Creates the new budget's current period state now, seeded with the spend already recorded in the period, so
    /// the seed is read at creation (not by the first authorisation). Best effort: the budget exists either way, and
    /// a state not created here is created (and seeded) by its first use.
    /// </summary>
    private async Task OpenFirstPeriodAsync(BudgetDefinition budget, CancellationToken cancellationToken)
    {
        if (!budget.IsStateful || budget.AppliesToEveryUser)
        {
            return;
        }

        try
        {
            await ledger.ExecuteAsync(new OpenStateCommand(budget, budget.ScopeId), cancellationToken).ConfigureAwait(false);
        }
        catch (BudgetUnavailableException)
        {
            // Seeded at first use instead; a 503 here would invite a retry that creates the budget twice.
        }
    }

    /// <summary>
    /// At most <see cref="LedgerLimits.MaxApplicableBudgets"/> period budgets may apply to one request (the tenant's,
    /// one team's, one key's, and the user's own or the every-user ones), so one ledger transaction always holds a
    /// request's rows.
    /// </summary>
    private async Task<string?> TooManyApplicableAsync(BudgetDefinition candidate, CancellationToken cancellationToken)
    {
        if (!candidate.IsStateful)
        {
            return null;
        }

        var all = (await repository.ListAsync(candidate.TenantId, cancellationToken).ConfigureAwait(false))
            .Where(b => b.IsStateful && b.BudgetId != candidate.BudgetId)
            .Append(candidate)
            .ToList();
        static int Max(IEnumerable<BudgetDefinition> budgets) => budgets.GroupBy(b => b.ScopeId, StringComparer.Ordinal).Select(g => g.Count()).DefaultIfEmpty(0).Max();
        var tenant = all.Count(b => b.Scope == BudgetScope.Tenant);
        var team = Max(all.Where(b => b.Scope == BudgetScope.Team));
        var key = Max(all.Where(b => b.Scope == BudgetScope.Key));
        // The configured default applies as an every-user budget while the tenant has none of its own.
        var everyUser = all.Count(b => b.AppliesToEveryUser) is var n and > 0 ? n : options.DefaultMonthly is null ? 0 : 1;
        var user = Math.Max(Max(all.Where(b => b.Scope == BudgetScope.User && !b.AppliesToEveryUser)), everyUser);
        var worst = tenant + team + key + user;
        return worst > LedgerLimits.MaxApplicableBudgets
            ? $"at most {LedgerLimits.MaxApplicableBudgets} period budgets may apply to one request (tenant {tenant} + team {team} + key {key} + user {user} = {worst} with this one); delete or merge some first"
            : null;
    }

    /// <summary>Null when the budget does not exist.</summary>
    public async Task<Validated<BudgetDefinition>?> UpdateAsync(string budgetId, BudgetDraft draft, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(draft);
        // Only stored budgets can be changed; the configured default is changed in configuration.
        var existing = await GetStoredAsync(budgetId, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            return null;
        }

        var now = time.GetUtcNow();
        var validated = BudgetValidator.Validate(draft with { TenantId = draft.TenantId ?? existing.TenantId }, budgetId, now, actor, existing);
        if (!validated.IsValid)
        {
            return validated;
        }

        var budget = validated.Value!;
        if (await TooManyApplicableAsync(budget, cancellationToken).ConfigureAwait(false) is { } problem)
        {
            return Validated<BudgetDefinition>.Fail("scope", problem);
        }

        if (!await repository.SaveAsync(budget, AuditEntry.Create(budget.TenantId, actor, "budget.update", "budget", budgetId, now, Describe(budget)), create: false, cancellationToken).ConfigureAwait(false))
        {
            return Validated<BudgetDefinition>.Fail("budget_id", "The budget was changed or deleted concurrently; read it again.");
        }

        Invalidate(budget.TenantId);
        return validated;
    }

    public async Task<bool> DeleteAsync(string budgetId, string actor, CancellationToken cancellationToken = default)
    {
        var existing = await GetStoredAsync(budgetId, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            return false;
        }

        var deleted = await repository.DeleteAsync(existing, AuditEntry.Create(existing.TenantId, actor, "budget.delete", "budget", budgetId, time.GetUtcNow(), Describe(existing)), cancellationToken).ConfigureAwait(false);
        Invalidate(existing.TenantId);
        return deleted;
    }

    /// <summary>A stored budget, or the tenant's configured default (so its status and breaker reset work by id).</summary>
    public async Task<BudgetDefinition?> GetAsync(string budgetId, CancellationToken cancellationToken = default)
    {
        var stored = await GetStoredAsync(budgetId, cancellationToken).ConfigureAwait(false);
        if (stored is not null || options.DefaultMonthly is not { } defaults
            || !BudgetValidator.TryGetTenant(budgetId, out var tenantId) || budgetId != DefaultMonthlyBudget.IdFor(tenantId))
        {
            return stored;
        }

        return defaults.For(tenantId);
    }

    private Task<BudgetDefinition?> GetStoredAsync(string budgetId, CancellationToken cancellationToken) =>
        BudgetValidator.TryGetTenant(budgetId, out _) ? repository.GetAsync(budgetId, cancellationToken) : Task.FromResult<BudgetDefinition?>(null);

    public Task<IReadOnlyList<BudgetDefinition>> ListAsync(string tenantId, CancellationToken cancellationToken = default) =>
        repository.ListAsync(tenantId, cancellationToken);

    /// <summary>Creates the budgets of a profile for a tenant; its every-user budgets apply to each new user.</summary>
    public async Task<Validated<IReadOnlyList<BudgetDefinition>>> ApplyProfileAsync(string? tenantId, string? profile, string actor, CancellationToken cancellationToken = default)
    {
        if (!BudgetValidator.IsValidId(tenantId))
        {
            return Validated<IReadOnlyList<BudgetDefinition>>.Fail("tenant_id", "tenant_id is required.");
        }

        if (profile is null || !BudgetProfiles.All.TryGetValue(profile, out var drafts))
        {
            return Validated<IReadOnlyList<BudgetDefinition>>.Fail("profile", $"profile must be one of {string.Join(", ", BudgetProfiles.All.Keys)}.");
        }

        var created = new List<BudgetDefinition>();
        foreach (var draft in drafts)
        {
            var result = await CreateAsync(draft with { TenantId = tenantId, Profile = profile }, actor, cancellationToken).ConfigureAwait(false);
            if (!result.IsValid)
            {
                // A profile applies whole or not at all (e.g. it would pass the budgets-per-request cap): undo the
                // part already created, with its audit lines, and say why.
                foreach (var budget in created)
                {
                    await DeleteAsync(budget.BudgetId, actor, cancellationToken).ConfigureAwait(false);
                }

                return Validated<IReadOnlyList<BudgetDefinition>>.Fail(result.Errors);
            }

            created.Add(result.Value!);
        }

        return Validated<IReadOnlyList<BudgetDefinition>>.Ok(created);
    }

    public async Task<Validated<AuthorizationDecision>> AuthorizeAsync(AuthorizeRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        void Require(string? value, string field)
        {
            if (!BudgetValidator.IsValidId(value))
            {
                errors[field] = [$"{field} {BudgetValidator.IdProblem(value)}"];
            }
        }

        Require(request.TenantId, "tenant_id");
        Require(request.UserId, "user_id");
        Require(request.Provider, "provider");
        Require(request.Model, "model");
        if (request.TeamId is not null)
        {
            Require(request.TeamId, "team_id");
        }

        if (request.KeyId is not null)
        {
            Require(request.KeyId, "key_id");
        }

        var inputs = (request.InputTokens is null ? 0 : 1) + (request.Prompt is null ? 0 : 1) + (request.Messages is null ? 0 : 1);
        if (inputs != 1)
        {
            errors["input_tokens"] = ["Give exactly one of input_tokens, messages or prompt."];
        }
        else if (request.InputTokens is < 0)
        {
            errors["input_tokens"] = ["input_tokens must not be negative."];
        }
        else if (request.Messages is { } messages && messages.Any(m => m is null || m.Content is null || string.IsNullOrEmpty(m.Role)))
        {
            errors["messages"] = ["Every message needs a role and a content string."];
        }

        if (request.MaxTokens is not { } maxTokens || maxTokens < 1 || maxTokens > options.MaxTokensLimit)
        {
            errors["max_tokens"] = [$"max_tokens is required: 1 to {options.MaxTokensLimit} (it bounds the worst-case cost)."];
        }

        if (request.RequestId is not null && !BudgetValidator.IsValidId(request.RequestId))
        {
            errors["request_id"] = [$"request_id {BudgetValidator.IdProblem(request.RequestId)}"];
        }

        if (request.TtlSeconds is { } ttl && (ttl < 1 || ttl > options.MaxReservationTtl.TotalSeconds))
        {
            errors["ttl_seconds"] = [$"ttl_seconds must be 1 to {(long)options.MaxReservationTtl.TotalSeconds} (how long the reservation counts at least)."];
        }

        if (errors.Count > 0)
        {
            return Validated<AuthorizationDecision>.Fail(errors);
        }

        var now = time.GetUtcNow();
        var tenantId = request.TenantId!;
        var input = request.InputTokens ?? tokenCounter.Count(request.Provider!, request.Model!, request.Prompt, request.Messages);
        var budgets = Applicable(await DefinitionsAsync(tenantId, cancellationToken).ConfigureAwait(false), request.UserId!, request.TeamId, request.KeyId);
        var requested = estimator.Estimate(tenantId, request.Provider!, request.Model!, input, request.MaxTokens!.Value, now);
        var candidates = budgets.Any(b => b.Mode == BudgetMode.Adaptive)
            ? RankCandidates(tenantId, request.Provider!, request.Model!, input, request.MaxTokens.Value, requested, now)
            : [];

        var command = new AuthorizeCommand(new AuthorizationWork
        {
            TenantId = tenantId,
            UserId = request.UserId!,
            TeamId = request.TeamId,
            KeyId = request.KeyId,
            Provider = request.Provider!,
            Model = request.Model!,
            Requested = requested,
            Candidates = candidates,
            Budgets = budgets,
            ReservationId = BudgetValidator.NewReservationId(tenantId, request.UserId!, request.RequestId, now),
            ReplayIds = request.RequestId is { } requestId ? BudgetValidator.ReplayReservationIds(tenantId, request.UserId!, requestId, now) : [],
            ReservationTtl = request.TtlSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : options.ReservationTtl,
            // Before the ledger reads anything: an event that left the snapshot earlier is in the rows it reads.
            Unapplied = unapplied?.Snapshot(tenantId) ?? UnappliedSnapshot.Empty,
        });
        await ledger.ExecuteAsync(command, cancellationToken).ConfigureAwait(false);
        var decision = command.Result!;
        BudgetMetrics.Decisions.Add(1, new KeyValuePair<string, object?>("outcome", decision.Outcome.ToString().ToLowerInvariant()));
        return Validated<AuthorizationDecision>.Ok(decision);
    }

    /// <summary>Counts a stored usage event against the budgets, settling its reservation (idempotent per event and reservation).</summary>
    public async Task<SettlementResult> RecordUsageAsync(BudgetUsage usage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(usage);
        return (await RecordUsageAsync([usage], cancellationToken).ConfigureAwait(false))[0];
    }

    /// <summary>
    /// Counts recorded events against the budgets, at least once per event from the caller, exactly once in the
    /// ledger (applied-event markers, reservation status). The events of one tenant are handed to the ledger
    /// together, so its group commit writes them in as few transactions as 100 actions allow.
    /// </summary>
    public async Task<IReadOnlyList<SettlementResult>> RecordUsageAsync(IReadOnlyList<BudgetUsage> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var results = new SettlementResult[events.Count];
        var commands = new List<(int Index, SettleCommand Command)>();
        foreach (var tenant in events.Select((e, i) => (Event: e, Index: i)).GroupBy(x => x.Event.TenantId, StringComparer.Ordinal))
        {
            // A budget created before an event was recorded must be known when the event is applied: the state's
            // seed cutoff assumes every later event reaches it.
            var newest = tenant.Max(x => x.Event.RecordedAt);
            var all = await DefinitionsAsync(tenant.Key, cancellationToken, loadedAfter: newest).ConfigureAwait(false);
            foreach (var (usage, index) in tenant)
            {
                var budgets = Applicable(all, usage.UserId, usage.TeamId, usage.KeyId);
                if (usage.ReservationId is null && !budgets.Any(b => b.IsStateful))
                {
                    // Nothing holds a running total for this event: no budget row to touch.
                    results[index] = new SettlementResult(SettlementOutcome.Applied, false, []);
                    continue;
                }

                commands.Add((index, new SettleCommand(new SettlementWork
                {
                    TenantId = usage.TenantId,
                    UserId = usage.UserId,
                    TeamId = usage.TeamId,
                    KeyId = usage.KeyId,
                    EventId = usage.EventId,
                    ReservationId = usage.ReservationId,
                    Timestamp = usage.Timestamp,
                    RecordedAt = usage.RecordedAt,
                    CostUsd = usage.CostUsd,
                    Priced = usage.Priced,
                    Tokens = usage.Tokens,
                    Budgets = budgets,
                    TenantBudgets = all,
                })));
            }
        }

        await Task.WhenAll(commands.Select(c => ledger.ExecuteAsync(c.Command, cancellationToken))).ConfigureAwait(false);
        foreach (var (index, command) in commands)
        {
            var result = command.Result!;
            results[index] = result;
            if (result.Late)
            {
                BudgetMetrics.LateSettlements.Add(1);
            }

            if (result.ReservationReleased && result.ReservationAge is { } age)
            {
                BudgetMetrics.ReservationAge.Record(age.TotalSeconds, new KeyValuePair<string, object?>("end", "settled"));
            }

            foreach (var alert in result.Alerts.Where(a => a.Kind == Alerts.AlertKinds.BudgetOverspend))
            {
                BudgetMetrics.Overspends.Add(1, new KeyValuePair<string, object?>("budget_id", alert.BudgetId));
            }
        }

        return results;
    }

    /// <summary>
    /// Closes every open reservation whose expiry has passed (in every tenant with reservations) and removes its
    /// worst case from the lanes holding it; returns how many closed. Each closes exactly once: the close is
    /// conditional on the reservation still being open, and its expiry index row goes in the same transaction.
    /// </summary>
    public async Task<int> ExpireReservationsAsync(CancellationToken cancellationToken = default)
    {
        var total = 0;
        foreach (var tenantId in await ledger.ListReservationTenantsAsync(cancellationToken).ConfigureAwait(false))
        {
            while (true)
            {
                var now = time.GetUtcNow();
                var due = await ledger.ListDueReservationsAsync(tenantId, now, 2000, cancellationToken).ConfigureAwait(false);
                if (due.Count == 0)
                {
                    break;
                }

                // Chunks in a random order: two instances sweeping at once mostly close different reservations.
                var commands = due.Chunk(CloseChunk).OrderBy(_ => Random.Shared.Next())
                    .Select(ids => new CloseReservationsCommand(tenantId, ids, ReservationStatus.Expired)).ToList();
                await Task.WhenAll(commands.Select(c => ledger.ExecuteAsync(c, cancellationToken))).ConfigureAwait(false);
                var closed = commands.SelectMany(c => c.Closed).ToList();
                foreach (var reservation in closed)
                {
                    BudgetMetrics.ReservationAge.Record((now - reservation.CreatedAt).TotalSeconds, new KeyValuePair<string, object?>("end", "expired"));
                }

                total += closed.Count;
                if (due.Count < 2000)
                {
                    break;
                }
            }
        }

        return total;
    }

    /// <summary>
    /// Releases a reservation the caller will not use (the call was not made): its worst case stops counting at
    /// once. Only the tenant (and, when given, the user) it was made for can release it.
    /// </summary>
    public async Task<Validated<ReleaseResult>> ReleaseReservationAsync(string? tenantId, string? reservationId, string? userId, CancellationToken cancellationToken = default)
    {
        if (!BudgetValidator.IsValidId(tenantId))
        {
            return Validated<ReleaseResult>.Fail("tenant_id", $"tenant_id {BudgetValidator.IdProblem(tenantId)}");
        }

        if (!BudgetValidator.IsReservationId(reservationId))
        {
            return Validated<ReleaseResult>.Fail("reservation_id", "reservation_id is not a reservation id this service issued.");
        }

        var key = BudgetKeys.Reservation(reservationId!);
        var existing = (await ledger.ReadAsync(tenantId!, [key], cancellationToken).ConfigureAwait(false)).Reservations.GetValueOrDefault(key);
        if (existing is null || (userId is not null && existing.UserId != userId))
        {
            return Validated<ReleaseResult>.Ok(new ReleaseResult(ReleaseOutcome.NotFound));
        }

        var command = new CloseReservationsCommand(tenantId!, [reservationId!], ReservationStatus.Released, existing.UserId);
        await ledger.ExecuteAsync(command, cancellationToken).ConfigureAwait(false);
        if (command.Closed.Count == 0)
        {
            return Validated<ReleaseResult>.Ok(new ReleaseResult(ReleaseOutcome.AlreadyClosed));
        }

        BudgetMetrics.ReservationAge.Record((time.GetUtcNow() - existing.CreatedAt).TotalSeconds, new KeyValuePair<string, object?>("end", "released"));
        return Validated<ReleaseResult>.Ok(new ReleaseResult(ReleaseOutcome.Released));
    }

    /// <summary>Deletes what can no longer matter in every tenant with reservations (bounded work per call); returns rows deleted.</summary>
    public async Task<int> PruneAsync(int maxPerTenant = 1000, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var deleted = 0;
        foreach (var tenantId in await ledger.ListReservationTenantsAsync(cancellationToken).ConfigureAwait(false))
        {
            deleted += await ledger.PruneAsync(tenantId, now - options.AppliedEventRetention, now - options.ReservationRetention, maxPerTenant, cancellationToken).ConfigureAwait(false);
        }

        return deleted;
    }

    public async Task<BudgetUserErasure> ForgetUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        ArgumentException.ThrowIfNullOrEmpty(userId);
        // Open reservations are held in lanes shared with other users' reservations: release them through the
        // ledger first, so the tenant's and team's reserved totals stay exact.
        var open = (await ledger.ListUserReservationsAsync(tenantId, userId, cancellationToken).ConfigureAwait(false))
            .Where(r => r.Status == ReservationStatus.Active).Select(r => r.ReservationId).ToList();
        var commands = open.Chunk(CloseChunk).Select(ids => new CloseReservationsCommand(tenantId, ids, ReservationStatus.Released, userId)).ToList();
        await Task.WhenAll(commands.Select(c => ledger.ExecuteAsync(c, cancellationToken))).ConfigureAwait(false);
        var deleted = new Dictionary<string, int>(await ledger.DeleteUserRowsAsync(tenantId, userId, cancellationToken).ConfigureAwait(false), StringComparer.Ordinal);

        // Budgets scoped to this user alone name them: deleted like an admin would, with an audit line.
        var budgets = 0;
        foreach (var budget in (await repository.ListAsync(tenantId, cancellationToken).ConfigureAwait(false)).Where(b => b.Scope == BudgetScope.User && b.ScopeId == userId))
        {
            if (await repository.DeleteAsync(budget, AuditEntry.Create(tenantId, "gdpr-erasure", "budget.delete", "budget", budget.BudgetId, time.GetUtcNow(), new Dictionary<string, string>(StringComparer.Ordinal) { ["reason"] = "user data erased" }), cancellationToken).ConfigureAwait(false))
            {
                budgets++;
            }
        }

        deleted["budgets"] = budgets;
        Invalidate(tenantId);
        return new BudgetUserErasure(commands.Sum(c => c.Closed.Count), deleted);
    }

    /// <summary>Status of a budget for its scope (or, for an every-user budget, for <paramref name="userId"/>).</summary>
    public async Task<Validated<BudgetStatus>?> GetStatusAsync(string budgetId, string? userId, CancellationToken cancellationToken = default)
    {
        var budget = await GetAsync(budgetId, cancellationToken).ConfigureAwait(false);
        if (budget is null)
        {
            return null;
        }

        if (budget.AppliesToEveryUser && !BudgetValidator.IsValidId(userId))
        {
            return Validated<BudgetStatus>.Fail("user_id", "user_id is required for a budget every user inherits (scope_id \"*\").");
        }

        var now = time.GetUtcNow();
        var subject = budget.AppliesToEveryUser ? userId! : budget.ScopeId;
        var window = BudgetPeriodCalculator.WindowFor(budget, now);
        BudgetPeriodState? state = null;
        List<BudgetLane> lanes = [];
        if (window is { } w)
        {
            // The main row and every lane it may have, read in one query: one consistent snapshot.
            var key = BudgetKeys.State(budget.BudgetId, subject, w.Key);
            var partition = await ledger.ReadAsync(budget.TenantId, [key, .. BudgetKeys.Lanes(key, LedgerLimits.MaxLanes)], cancellationToken).ConfigureAwait(false);
            state = partition.States.GetValueOrDefault(key) ?? new BudgetPeriodState(budget.BudgetId, subject, w, 1);
            lanes = partition.Lanes.Values.ToList();
        }

        var reservedUsd = lanes.Sum(l => l.OpenUsd(state));
        var reservedTokens = lanes.Sum(l => l.OpenTokens(state));
        var slot = new BudgetSlot(budget, subject, state)
        {
            Remaining = state is null ? null : BudgetUnits.Limit(budget) - state.Spent(budget) - BudgetUnits.Of(budget, reservedUsd, reservedTokens),
        };
        return Validated<BudgetStatus>.Ok(new BudgetStatus
        {
            Budget = budget,
            Subject = subject,
            Window = window,
            SpentUsd = state?.SpentUsd ?? 0m,
            ReservedUsd = reservedUsd,
            RemainingUsd = BudgetAuthorizer.RemainingUsd(slot),
            SpentTokens = state?.SpentTokens ?? 0,
            ReservedTokens = reservedTokens,
            RemainingTokens = BudgetAuthorizer.RemainingTokens(slot),
            Forecast = state is null || window is not { } period ? null
                : await forecaster.ForecastAsync(budget, subject, period, state.Spent(budget), cancellationToken).ConfigureAwait(false),
            ActiveReservations = lanes.Sum(l => l.OpenCount(state)),
            EventCount = state?.EventCount ?? 0,
            UnpricedEvents = state?.UnpricedEvents ?? 0,
            FiredAlerts = state?.FiredAlerts.Order(StringComparer.Ordinal).ToList() ?? [],
            TrippedUntil = state?.TrippedUntil,
            Overspent = state is null || !budget.IsStateful ? 0m : Math.Max(0m, state.Spent(budget) - BudgetUnits.Limit(budget)),
            LateSettlements = state?.LateSettlements ?? 0,
            SeededUsd = state?.SeedUsd ?? 0m,
            SeededTokens = state?.SeedTokens ?? 0,
            SeedCutoff = state?.SeedCutoff,
        });
    }

    public async Task<Validated<FreezeRecord>> FreezeAsync(string? tenantId, string? scope, string? scopeId, string? reason, string actor, bool freeze, CancellationToken cancellationToken = default)
    {
        if (!BudgetValidator.IsValidId(tenantId))
        {
            return Validated<FreezeRecord>.Fail("tenant_id", "tenant_id is required.");
        }

        if (!BudgetNames.TryParse(scope, out BudgetScope parsed))
        {
            return Validated<FreezeRecord>.Fail("scope", "scope must be tenant, team, user or key.");
        }

        // The tenant-wide freeze has one well-known key.
        var id = parsed == BudgetScope.Tenant ? "*" : scopeId;
        if (!BudgetValidator.IsValidId(id))
        {
            return Validated<FreezeRecord>.Fail("scope_id", "scope_id is required for team, user and key.");
        }

        var now = time.GetUtcNow();
        var record = new FreezeRecord(tenantId!, parsed, id!, now, actor, reason);
        var details = new Dictionary<string, string>(StringComparer.Ordinal) { ["scope"] = BudgetNames.Of(parsed) };
        if (reason is not null)
        {
            details["reason"] = reason;
        }

        var audit = AuditEntry.Create(tenantId!, actor, freeze ? "freeze" : "unfreeze", BudgetNames.Of(parsed), parsed == BudgetScope.Tenant ? tenantId! : id!, now, details);
        await ledger.ExecuteAsync(new SetFreezeCommand(tenantId!, parsed, id!, freeze ? record : null, audit), cancellationToken).ConfigureAwait(false);
        return Validated<FreezeRecord>.Ok(record);
    }

    /// <summary>Resets a budget's circuit breaker for its scope (or a user of an every-user budget); null when the budget does not exist.</summary>
    public async Task<Validated<BudgetStatus>?> ResetBreakerAsync(string budgetId, string? userId, string actor, CancellationToken cancellationToken = default)
    {
        var budget = await GetAsync(budgetId, cancellationToken).ConfigureAwait(false);
        if (budget is null)
        {
            return null;
        }

        if (budget.AppliesToEveryUser && !BudgetValidator.IsValidId(userId))
        {
            return Validated<BudgetStatus>.Fail("user_id", "user_id is required for a budget every user inherits (scope_id \"*\").");
        }

        var subject = budget.AppliesToEveryUser ? userId! : budget.ScopeId;
        var audit = AuditEntry.Create(budget.TenantId, actor, "breaker.reset", "budget", budgetId, time.GetUtcNow(),
            new Dictionary<string, string>(StringComparer.Ordinal) { ["subject"] = subject });
        await ledger.ExecuteAsync(new ResetBreakerCommand(budget, subject, audit), cancellationToken).ConfigureAwait(false);
        return await GetStatusAsync(budgetId, userId, cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<FreezeRecord>> ListFreezesAsync(string tenantId, CancellationToken cancellationToken = default) =>
        ledger.ListFreezesAsync(tenantId, cancellationToken);

    public Task<IReadOnlyList<AuditEntry>> ListAuditAsync(string tenantId, int max, CancellationToken cancellationToken = default) =>
        repository.ListAuditAsync(tenantId, max, cancellationToken);

    /// <summary>
    /// Budgets that apply to a request: the tenant's, the team's, the key's, and the user's own budgets; a user
    /// without one inherits the every-user ("*") budgets (the profile defaults).
    /// </summary>
    public static IReadOnlyList<BudgetDefinition> Applicable(IReadOnlyList<BudgetDefinition> all, string userId, string? teamId, string? keyId)
    {
        ArgumentNullException.ThrowIfNull(all);
        var hasOwn = all.Any(b => b.Scope == BudgetScope.User && b.ScopeId == userId);
        return all.Where(b => b.Scope switch
        {
            BudgetScope.Tenant => true,
            BudgetScope.Team => teamId is not null && b.ScopeId == teamId,
            BudgetScope.Key => keyId is not null && b.ScopeId == keyId,
            BudgetScope.User => b.ScopeId == userId || (b.AppliesToEveryUser && !hasOwn),
            _ => false,
        }).OrderBy(b => b.Scope).ThenBy(b => b.BudgetId, StringComparer.Ordinal).ToList();
    }

    private IReadOnlyList<ModelCandidate> RankCandidates(string tenantId, string provider, string model, long input, long maxTokens, WorstCase requested, DateTimeOffset now)
    {
        // Cheaper than the request, same provider first, then the most expensive (most capable) first.
        return downgrades.Candidates(provider, model, input, maxTokens, tenantId)
            .Where(c => !(string.Equals(c.Provider, provider, StringComparison.OrdinalIgnoreCase) && string.Equals(c.Model, model, StringComparison.OrdinalIgnoreCase)))
            .Select(c => new ModelCandidate(c.Provider, c.Model, estimator.Estimate(tenantId, c.Provider, c.Model, input, maxTokens, now)))
            .Where(c => c.Estimate.Priced && (!requested.Priced || c.Estimate.WorstCaseUsd < requested.WorstCaseUsd))
            .OrderBy(c => string.Equals(c.Provider, provider, StringComparison.OrdinalIgnoreCase) ? 0 : 1)
            .ThenByDescending(c => c.Estimate.WorstCaseUsd)
            .ThenBy(c => c.Model, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The tenant's enforced definitions, cached <see cref="BudgetOptions.DefinitionCacheTtl"/> per instance; with
    /// <paramref name="loadedAfter"/>, a cached list read before that instant is read again.
    /// </summary>
    private Task<IReadOnlyList<BudgetDefinition>> DefinitionsAsync(string tenantId, CancellationToken cancellationToken, DateTimeOffset? loadedAfter = null)
    {
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(tenantId, out var entry) && entry.LoadedAt + options.DefinitionCacheTtl > now && !entry.Budgets.IsFaulted
            && (loadedAfter is not { } after || entry.LoadedAt > after))
        {
            return entry.Budgets;
        }

        var load = WithDefaultAsync(repository.ListAsync(tenantId, cancellationToken), tenantId);
        _cache[tenantId] = (now, load);
        return load;
    }

    /// <summary>
    /// The enforced definitions: the stored ones plus the configured default every-user budget when the tenant has
    /// none of its own; <see cref="Applicable"/> then drops it for a user with their own budget, as for any
    /// every-user budget.
    /// </summary>
    private async Task<IReadOnlyList<BudgetDefinition>> WithDefaultAsync(Task<IReadOnlyList<BudgetDefinition>> stored, string tenantId)
    {
        var list = await stored.ConfigureAwait(false);
        return options.DefaultMonthly is { } defaults ? defaults.AddTo(list, tenantId) : list;
    }

    private void Invalidate(string tenantId) => _cache.TryRemove(tenantId, out _);

    private static Dictionary<string, string> Describe(BudgetDefinition b)
    {
        var details = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["scope"] = BudgetNames.Of(b.Scope),
            ["scope_id"] = b.ScopeId,
            ["period"] = BudgetNames.Of(b.Period),
            ["alignment"] = BudgetNames.Of(b.Alignment),
            ["timezone"] = b.TimeZone,
            ["mode"] = BudgetNames.Of(b.Mode),
        };
        if (b.AmountUsd is { } amount)
        {
            details["amount_usd"] = amount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (b.TokenLimit is { } tokens)
        {
            details["token_limit"] = tokens.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return details;
    }
}

/// <summary>Built-in budget profiles. Applying one creates every-user budgets, which each user without a budget of their own inherits.</summary>
public static class BudgetProfiles
{
    public static IReadOnlyDictionary<string, IReadOnlyList<BudgetDraft>> All { get; } = new Dictionary<string, IReadOnlyList<BudgetDraft>>(StringComparer.Ordinal)
    {
        ["development"] =
        [
            new BudgetDraft { Scope = "user", ScopeId = "*", Name = "development daily", AmountUsd = "5.00", Period = "daily", Mode = "hard" },
            new BudgetDraft { Scope = "user", ScopeId = "*", Name = "development per request", AmountUsd = "0.50", Period = "per_request", Mode = "hard" },
        ],
        ["production"] =
        [
            new BudgetDraft { Scope = "user", ScopeId = "*", Name = "production daily", AmountUsd = "50.00", Period = "daily", Mode = "adaptive" },
            new BudgetDraft { Scope = "user", ScopeId = "*", Name = "production monthly", AmountUsd = "500.00", Period = "monthly", Mode = "soft" },
        ],
        ["enterprise"] =
        [
            new BudgetDraft { Scope = "user", ScopeId = "*", Name = "enterprise monthly", AmountUsd = "2000.00", Period = "monthly", Mode = "soft" },
            new BudgetDraft { Scope = "user", ScopeId = "*", Name = "enterprise per request", AmountUsd = "25.00", Period = "per_request", Mode = "hard" },
        ],
    };
}
