using System.Collections.Concurrent;
using System.Security.Cryptography;
using LlmCost.Core.Audit;

namespace LlmCost.Core.Budgets;

public sealed record BudgetOptions
{
    /// <summary>How long an unsettled reservation counts before it expires.</summary>
    public TimeSpan ReservationTtl { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long another instance may keep using a cached budget definition list.</summary>
    public TimeSpan DefinitionCacheTtl { get; init; } = TimeSpan.FromSeconds(5);

    public long MaxTokensLimit { get; init; } = 10_000_000;

    /// <summary>The configured default every-user monthly budget (<c>LlmCost:Budgets:Defaults</c>); null = none.</summary>
    public DefaultMonthlyBudget? DefaultMonthly { get; init; }
}

/// <summary>An authorisation request as the caller sent it.</summary>
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
}

/// <summary>A stored usage event, as the budgets need it (from the ingestion observer).</summary>
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
    long Tokens);

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
    public decimal? Forecast { get; init; }
    public int ActiveReservations { get; init; }
    public long EventCount { get; init; }
    public long UnpricedEvents { get; init; }
    public IReadOnlyList<string> FiredAlerts { get; init; } = [];
    public DateTimeOffset? TrippedUntil { get; init; }
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
    IBudgetSpendForecaster forecaster,
    TimeProvider time,
    BudgetOptions options,
    ISettlementMarkerSource? settlementMarkers = null)
{
    private readonly ConcurrentDictionary<string, (DateTimeOffset Expires, Task<IReadOnlyList<BudgetDefinition>> Budgets)> _cache = new(StringComparer.Ordinal);

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
        await repository.SaveAsync(budget, Audit(budget.TenantId, actor, "budget.create", "budget", budget.BudgetId, now, Describe(budget)), create: true, cancellationToken).ConfigureAwait(false);
        Invalidate(budget.TenantId);
        return validated;
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
        if (!await repository.SaveAsync(budget, Audit(budget.TenantId, actor, "budget.update", "budget", budgetId, now, Describe(budget)), create: false, cancellationToken).ConfigureAwait(false))
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

        var deleted = await repository.DeleteAsync(existing, Audit(existing.TenantId, actor, "budget.delete", "budget", budgetId, time.GetUtcNow(), Describe(existing)), cancellationToken).ConfigureAwait(false);
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
        else if (request.Messages is { } messages && messages.Any(m => m.Content is null || string.IsNullOrEmpty(m.Role)))
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
            ReservationId = BudgetValidator.NewReservationId(tenantId, request.UserId!, request.RequestId),
            ReservationTtl = options.ReservationTtl,
            Idempotent = request.RequestId is not null,
        });
        await ledger.ExecuteAsync(command, cancellationToken).ConfigureAwait(false);
        return Validated<AuthorizationDecision>.Ok(command.Result!);
    }

    /// <summary>Counts a stored usage event against the budgets, settling its reservation (idempotent per event and reservation).</summary>
    public async Task<SettlementResult> RecordUsageAsync(BudgetUsage usage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(usage);
        var all = await DefinitionsAsync(usage.TenantId, cancellationToken).ConfigureAwait(false);
        var budgets = Applicable(all, usage.UserId, usage.TeamId, usage.KeyId);
        if (usage.ReservationId is null && !budgets.Any(b => b.IsStateful))
        {
            // Nothing holds a running total for this event: no budget row to touch.
            return new SettlementResult(SettlementOutcome.Applied, false, []);
        }

        var command = new SettleCommand(new SettlementWork
        {
            TenantId = usage.TenantId,
            UserId = usage.UserId,
            TeamId = usage.TeamId,
            KeyId = usage.KeyId,
            EventId = usage.EventId,
            ReservationId = usage.ReservationId,
            Timestamp = usage.Timestamp,
            CostUsd = usage.CostUsd,
            Priced = usage.Priced,
            Tokens = usage.Tokens,
            Budgets = budgets,
            TenantBudgets = all,
        });
        await ledger.ExecuteAsync(command, cancellationToken).ConfigureAwait(false);
        return command.Result!;
    }

    /// <summary>
    /// Closes every reservation whose expiry has passed; returns how many expired. A reservation whose event was
    /// recorded (its settlement marker exists) but never applied to the budget is settled with the actual cost
    /// instead: the safety net for a crash between recording the event and updating the budget.
    /// </summary>
    public async Task<int> ExpireReservationsAsync(CancellationToken cancellationToken = default)
    {
        var total = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var due = await ledger.ListExpiredReservationsAsync(time.GetUtcNow(), 500, cancellationToken).ConfigureAwait(false);
            var fresh = due.Where(r => seen.Add(r.ReservationId)).ToList();
            if (fresh.Count == 0)
            {
                return total;
            }

            var toExpire = new List<ReservationRecord>();
            foreach (var reservation in fresh)
            {
                if (settlementMarkers is not null
                    && await settlementMarkers.FindAsync(reservation, cancellationToken).ConfigureAwait(false) is { } usage)
                {
                    await RecordUsageAsync(usage with { KeyId = reservation.KeyId }, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    toExpire.Add(reservation);
                }
            }

            foreach (var group in toExpire.GroupBy(r => r.TenantId, StringComparer.Ordinal))
            {
                foreach (var chunk in group.Select(r => r.ReservationId).Chunk(40))
                {
                    var command = new ExpireReservationsCommand(group.Key, chunk);
                    await ledger.ExecuteAsync(command, cancellationToken).ConfigureAwait(false);
                    total += command.Expired;
                }
            }
        }
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
        if (window is { } w)
        {
            var key = BudgetKeys.State(budget.BudgetId, subject, w.Key);
            var partition = await ledger.ReadAsync(budget.TenantId, [key], cancellationToken).ConfigureAwait(false);
            state = partition.States.GetValueOrDefault(key) ?? new BudgetPeriodState(budget.BudgetId, subject, w);
        }

        var slot = new BudgetSlot(budget, subject, state);
        return Validated<BudgetStatus>.Ok(new BudgetStatus
        {
            Budget = budget,
            Subject = subject,
            Window = window,
            SpentUsd = state?.SpentUsd ?? 0m,
            ReservedUsd = state?.ReservedUsd(now) ?? 0m,
            RemainingUsd = BudgetAuthorizer.RemainingUsd(slot, now),
            SpentTokens = state?.SpentTokens ?? 0,
            ReservedTokens = state?.ReservedTokens(now) ?? 0,
            RemainingTokens = BudgetAuthorizer.RemainingTokens(slot, now),
            Forecast = state is null ? null : forecaster.ForecastPeriodEnd(budget, state, now),
            ActiveReservations = state?.ActiveReservations(now) ?? 0,
            EventCount = state?.EventCount ?? 0,
            UnpricedEvents = state?.UnpricedEvents ?? 0,
            FiredAlerts = state?.FiredAlerts.Order(StringComparer.Ordinal).ToList() ?? [],
            TrippedUntil = state?.TrippedUntil,
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

        var audit = Audit(tenantId!, actor, freeze ? "freeze" : "unfreeze", BudgetNames.Of(parsed), parsed == BudgetScope.Tenant ? tenantId! : id!, now, details);
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
        var audit = Audit(budget.TenantId, actor, "breaker.reset", "budget", budgetId, time.GetUtcNow(),
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

    private Task<IReadOnlyList<BudgetDefinition>> DefinitionsAsync(string tenantId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(tenantId, out var entry) && entry.Expires > now && !entry.Budgets.IsFaulted)
        {
            return entry.Budgets;
        }

        var load = WithDefaultAsync(repository.ListAsync(tenantId, cancellationToken), tenantId);
        _cache[tenantId] = (now + options.DefinitionCacheTtl, load);
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

    private static AuditEntry Audit(string tenantId, string actor, string action, string targetType, string targetId, DateTimeOffset now, IReadOnlyDictionary<string, string> details) => new()
    {
        AuditId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
        TenantId = tenantId,
        At = now,
        Actor = actor,
        Action = action,
        TargetType = targetType,
        TargetId = targetId,
        Details = details,
    };

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
