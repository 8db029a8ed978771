namespace LlmCost.Core.Budgets;

public enum AuthorizationOutcome
{
    Allow,
    Deny,
    Downgrade,
}

/// <summary>The worst-case cost of one request: input tokens plus max_tokens of output, priced.</summary>
/// <param name="Priced">False when the model has no price: a USD budget cannot admit it (never a silent $0).</param>
public sealed record WorstCase(bool Priced, decimal WorstCaseUsd, long WorstCaseTokens, string? Reason = null);

/// <summary>A model that could replace the requested one under an adaptive budget, with its worst-case cost.</summary>
public sealed record ModelCandidate(string Provider, string Model, WorstCase Estimate);

/// <summary>Where one applicable budget stands after the decision (remaining after this request's reservation).</summary>
public sealed record BudgetStanding(
    string BudgetId,
    BudgetScope Scope,
    string Subject,
    BudgetMode Mode,
    decimal? LimitUsd,
    decimal? RemainingUsd,
    long? TokenLimit,
    long? RemainingTokens,
    string? PeriodKey);

public sealed record AuthorizationDecision
{
    public required AuthorizationOutcome Outcome { get; init; }
    public string? ReservationId { get; init; }
    public decimal ReservedUsd { get; init; }
    public long ReservedTokens { get; init; }

    /// <summary>Until when the reservation's worst case counts at least (it counts until it is settled, released or closed by the expiry sweep).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    public string? SuggestedProvider { get; init; }
    public string? SuggestedModel { get; init; }
    public IReadOnlyList<BudgetStanding> Budgets { get; init; } = [];
    public string? Reason { get; init; }

    /// <summary>The budget that caused a denial (or a downgrade), so the caller can tell the user which one.</summary>
    public string? LimitingBudgetId { get; init; }

    /// <summary>True when this answers a retry of an authorisation already admitted (same reservation, nothing reserved twice).</summary>
    public bool Replayed { get; init; }
}

/// <summary>One applicable budget with its current period state (null for per-request budgets).</summary>
public sealed record BudgetSlot(BudgetDefinition Definition, string Subject, BudgetPeriodState? State)
{
    /// <summary>Headroom this decision may use, in the budget's unit (USD or tokens); null = the whole limit.</summary>
    public decimal? Available { get; init; }

    /// <summary>Limit minus spend minus open reservations, in the budget's unit: exact, or a lower bound when not every lane was read.</summary>
    public decimal? Remaining { get; init; }
}

/// <summary>
/// The authorisation rule, pure: hard budgets deny what would exceed them; adaptive budgets that would be exceeded
/// look for the first candidate model (callers order them: same provider first, then most capable first) that
/// fits every hard and adaptive budget; soft budgets never block, they only say so.
/// </summary>
public static class BudgetAuthorizer
{
    public static AuthorizationVerdict Decide(
        IReadOnlyList<BudgetSlot> slots,
        IReadOnlyList<FreezeRecord> freezes,
        string provider,
        string model,
        WorstCase requested,
        IReadOnlyList<ModelCandidate> candidates,
        DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(slots);
        ArgumentNullException.ThrowIfNull(freezes);
        ArgumentNullException.ThrowIfNull(requested);
        ArgumentNullException.ThrowIfNull(candidates);

        if (freezes.Count > 0)
        {
            var freeze = freezes.OrderBy(f => f.Scope).First();
            return AuthorizationVerdict.Denied(
                $"{BudgetNames.Of(freeze.Scope)} '{freeze.ScopeId}' is frozen" + (freeze.Reason is null ? string.Empty : $": {freeze.Reason}"),
                null);
        }

        var tripped = slots.FirstOrDefault(s => s.State?.IsTripped(now) == true);
        if (tripped is not null)
        {
            return AuthorizationVerdict.Denied(
                $"circuit breaker of budget '{tripped.Definition.BudgetId}' tripped until {tripped.State!.TrippedUntil:O}",
                tripped.Definition.BudgetId);
        }

        var failing = slots.Where(s => !Fits(s, requested)).ToList();
        var hardFail = failing.FirstOrDefault(s => s.Definition.Mode == BudgetMode.Hard);
        var adaptiveFail = failing.FirstOrDefault(s => s.Definition.Mode == BudgetMode.Adaptive);
        var softFail = failing.FirstOrDefault(s => s.Definition.Mode == BudgetMode.Soft);

        if (adaptiveFail is not null)
        {
            var binding = slots.Where(s => s.Definition.Mode != BudgetMode.Soft).ToList();
            foreach (var candidate in candidates)
            {
                if (candidate.Estimate.Priced && binding.All(s => Fits(s, candidate.Estimate)))
                {
                    return new AuthorizationVerdict(
                        AuthorizationOutcome.Downgrade,
                        candidate.Estimate,
                        candidate.Provider,
                        candidate.Model,
                        $"budget '{adaptiveFail.Definition.BudgetId}' does not fit {model}; {candidate.Model} does",
                        adaptiveFail.Definition.BudgetId);
                }
            }

            return AuthorizationVerdict.Denied(
                $"budget '{adaptiveFail.Definition.BudgetId}' would be exceeded and no cheaper model fits{WhyNot(requested)}",
                adaptiveFail.Definition.BudgetId);
        }

        if (hardFail is not null)
        {
            return AuthorizationVerdict.Denied(
                $"budget '{hardFail.Definition.BudgetId}' would be exceeded{WhyNot(requested)}",
                hardFail.Definition.BudgetId);
        }

        return new AuthorizationVerdict(
            AuthorizationOutcome.Allow,
            requested,
            provider,
            model,
            softFail is null ? null : $"soft budget '{softFail.Definition.BudgetId}' is exceeded{WhyNot(requested)}",
            softFail?.Definition.BudgetId);
    }

    /// <summary>Whether a request of this worst case fits what this decision may use of the budget (per-request: the limit itself).</summary>
    public static bool Fits(BudgetSlot slot, WorstCase estimate)
    {
        ArgumentNullException.ThrowIfNull(slot);
        ArgumentNullException.ThrowIfNull(estimate);
        var definition = slot.Definition;
        if (definition.IsUsd && !estimate.Priced)
        {
            return false;
        }

        var units = BudgetUnits.Of(definition, estimate.WorstCaseUsd, estimate.WorstCaseTokens);
        var available = slot.State is null ? BudgetUnits.Limit(definition) : slot.Available ?? BudgetUnits.Limit(definition);
        return units <= available;
    }

    public static decimal? RemainingUsd(BudgetSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        if (slot.Definition.AmountUsd is not { } limit)
        {
            return null;
        }

        return slot.State is null ? limit : slot.Remaining ?? limit;
    }

    public static long? RemainingTokens(BudgetSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        if (slot.Definition.TokenLimit is not { } limit)
        {
            return null;
        }

        return slot.State is null ? limit : (long)decimal.Floor(slot.Remaining ?? limit);
    }

    public static BudgetStanding Standing(BudgetSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        return new BudgetStanding(
            slot.Definition.BudgetId,
            slot.Definition.Scope,
            slot.Subject,
            slot.Definition.Mode,
            slot.Definition.AmountUsd,
            RemainingUsd(slot),
            slot.Definition.TokenLimit,
            RemainingTokens(slot),
            slot.State?.Window.Key);
    }

    private static string WhyNot(WorstCase estimate) =>
        estimate.Priced ? string.Empty : $" (the requested model has no price: {estimate.Reason ?? "unknown model"})";
}

/// <summary>What <see cref="BudgetAuthorizer.Decide"/> concluded, before anything is reserved.</summary>
public sealed record AuthorizationVerdict(
    AuthorizationOutcome Outcome,
    WorstCase? Admitted,
    string? Provider,
    string? Model,
    string? Reason,
    string? LimitingBudgetId)
{
    public static AuthorizationVerdict Denied(string reason, string? budgetId) =>
        new(AuthorizationOutcome.Deny, null, null, null, reason, budgetId);
}
