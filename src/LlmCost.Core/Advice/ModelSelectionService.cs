using System.Text.Json.Serialization;
using LlmCost.Core.Budgets;

namespace LlmCost.Core.Advice;

/// <summary>Budget decision outcomes a selection candidate is labelled with (wire names).</summary>
public static class CandidateBudgetOutcomes
{
    /// <summary>Every applicable budget has room for the call's worst case.</summary>
    public const string Allow = "allow";

    /// <summary>Allowed, but over a soft budget (which never blocks).</summary>
    public const string AllowOverSoftBudget = "allow_over_soft_budget";

    /// <summary>An adaptive budget has no room: the authorisation would downgrade to a cheaper model (or deny).</summary>
    public const string Downgrade = "downgrade";

    /// <summary>A hard budget has no room, a scope is frozen or a circuit breaker is tripped.</summary>
    public const string Deny = "deny";
}

/// <param name="WorstCaseUsd">The call's worst case as the budget prices it (input + max_tokens); null when unpriced.</param>
/// <param name="BudgetId">The budget that decides (limiting), null when all have room.</param>
public sealed record CandidateBudgetDecision(
    string Outcome,
    [property: JsonConverter(typeof(NullableMoneyJsonConverter))] decimal? WorstCaseUsd,
    long WorstCaseTokens,
    string? BudgetId,
    string Reason);

/// <summary>
/// POST /api/models/select: the selector's ranked, explained answer, each candidate labelled with the decision the
/// budgets would give it now. The label is a read-only preview of the same rule <see cref="BudgetAuthorizer"/>
/// applies (status of each applicable budget, freezes, breakers); nothing is reserved, so a later authorisation can
/// differ when spend moved in between.
/// </summary>
public sealed class ModelSelectionService(IModelSelectorSource selectors, BudgetService? budgets, IBudgetCostEstimator? estimator, TimeProvider time)
{

    public async Task<Validated<ModelSelectionResult>> SelectAsync(ModelSelectionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        CheckId(request.UserId, "user_id", errors);
        CheckId(request.TeamId, "team_id", errors);
        CheckId(request.KeyId, "key_id", errors);
        if (request.MaxTokens is < 1)
        {
            errors["max_tokens"] = ["max_tokens must be at least 1"];
        }

        Validated<ModelSelectionResult> selected = selectors.For(request.TenantId).Select(request);
        if (!selected.IsValid || errors.Count > 0)
        {
            foreach ((string field, string[] messages) in selected.Errors)
            {
                errors[field] = messages;
            }

            return Validated<ModelSelectionResult>.Fail(errors);
        }

        ModelSelectionResult result = selected.Value!;
        if (budgets is null || estimator is null || request.TenantId is null || result.Candidates.Count == 0)
        {
            return selected;
        }

        BudgetView view = await ReadBudgetsAsync(budgets, request, cancellationToken).ConfigureAwait(false);
        DateTimeOffset now = time.GetUtcNow();
        return Validated<ModelSelectionResult>.Ok(result with
        {
            Candidates = [.. result.Candidates.Select(c =>
            {
                WorstCase worst = estimator.Estimate(request.TenantId, c.Provider, c.CallableModel ?? c.Model, c.InputTokens, request.MaxTokens ?? c.OutputTokens, now);
                return c with { BudgetDecision = view.Decide(worst) };
            })],
        });
    }

    private static void CheckId(string? value, string field, Dictionary<string, string[]> errors)
    {
        if (value is not null && !BudgetValidator.IsValidId(value))
        {
            errors[field] = [$"{field} {BudgetValidator.IdProblem(value)}"];
        }
    }

    private static async Task<BudgetView> ReadBudgetsAsync(BudgetService budgets, ModelSelectionRequest request, CancellationToken cancellationToken)
    {
        string tenant = request.TenantId!;
        IReadOnlyList<BudgetDefinition> stored = await budgets.ListAsync(tenant, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<BudgetDefinition> all = budgets.Options.DefaultMonthly is { } defaults ? defaults.AddTo(stored, tenant) : stored;
        // Without a user, the user budgets (own or inherited) cannot be told: only tenant, team and key budgets count.
        IReadOnlyList<BudgetDefinition> applicable = BudgetService.Applicable(all, request.UserId ?? string.Empty, request.TeamId, request.KeyId)
            .Where(b => request.UserId is not null || b.Scope != BudgetScope.User)
            .ToList();
        var statuses = new List<BudgetStatus>();
        foreach (BudgetDefinition budget in applicable)
        {
            if (await budgets.GetStatusAsync(budget.BudgetId, request.UserId, cancellationToken).ConfigureAwait(false) is { IsValid: true } status)
            {
                statuses.Add(status.Value!);
            }
        }

        IReadOnlyList<FreezeRecord> freezes = await budgets.ListFreezesAsync(tenant, cancellationToken).ConfigureAwait(false);
        FreezeRecord? freeze = freezes.Where(f => f.Scope switch
        {
            BudgetScope.Tenant => true,
            BudgetScope.Team => f.ScopeId == request.TeamId,
            BudgetScope.User => f.ScopeId == request.UserId,
            BudgetScope.Key => f.ScopeId == request.KeyId,
            _ => false,
        }).OrderBy(f => f.Scope).FirstOrDefault();
        return new BudgetView(statuses, freeze);
    }

    private sealed class BudgetView(IReadOnlyList<BudgetStatus> statuses, FreezeRecord? freeze)
    {
        public CandidateBudgetDecision Decide(WorstCase worst)
        {
            decimal? usd = worst.Priced ? worst.WorstCaseUsd : null;
            if (freeze is not null)
            {
                return new(CandidateBudgetOutcomes.Deny, usd, worst.WorstCaseTokens, null, $"{BudgetNames.Of(freeze.Scope)} '{freeze.ScopeId}' is frozen");
            }

            if (statuses.FirstOrDefault(s => s.TrippedUntil is not null) is { } tripped)
            {
                return new(CandidateBudgetOutcomes.Deny, usd, worst.WorstCaseTokens, tripped.Budget.BudgetId, $"circuit breaker of budget '{tripped.Budget.BudgetId}' is tripped");
            }

            List<BudgetStatus> failing = [.. statuses.Where(s => !Fits(s, worst))];
            if (failing.FirstOrDefault(s => s.Budget.Mode == BudgetMode.Adaptive) is { } adaptive)
            {
                return new(CandidateBudgetOutcomes.Downgrade, usd, worst.WorstCaseTokens, adaptive.Budget.BudgetId,
                    $"adaptive budget '{adaptive.Budget.BudgetId}' has no room for this model's worst case: the authorisation would offer a cheaper model or deny");
            }

            if (failing.FirstOrDefault(s => s.Budget.Mode == BudgetMode.Hard) is { } hard)
            {
                return new(CandidateBudgetOutcomes.Deny, usd, worst.WorstCaseTokens, hard.Budget.BudgetId,
                    worst.Priced ? $"hard budget '{hard.Budget.BudgetId}' would be exceeded" : $"unpriced: a USD budget cannot admit it ({worst.Reason})");
            }

            if (failing.FirstOrDefault(s => s.Budget.Mode == BudgetMode.Soft) is { } soft)
            {
                return new(CandidateBudgetOutcomes.AllowOverSoftBudget, usd, worst.WorstCaseTokens, soft.Budget.BudgetId, $"soft budget '{soft.Budget.BudgetId}' would be exceeded");
            }

            return new(CandidateBudgetOutcomes.Allow, usd, worst.WorstCaseTokens, null,
                statuses.Count == 0 ? "no budget applies" : $"fits all {statuses.Count} applicable budgets");
        }

        private static bool Fits(BudgetStatus status, WorstCase worst)
        {
            if (status.Budget.AmountUsd is not null && (!worst.Priced || worst.WorstCaseUsd > (status.RemainingUsd ?? 0m)))
            {
                return false;
            }

            return status.Budget.TokenLimit is null || worst.WorstCaseTokens <= (status.RemainingTokens ?? 0);
        }
    }
}
