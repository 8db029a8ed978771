using LlmCost.Core.Budgets;

namespace LlmCost.Core.Advice;

/// <summary>Decision outcomes as recorded for business metrics (wire and storage names).</summary>
public static class BudgetDecisionOutcomes
{
    public const string Admitted = "admitted";
    public const string Downgraded = "downgraded";
    public const string SoftOverrun = "soft_overrun";
    public const string Denied = "denied";
}

/// <summary>
/// One authorisation as business metrics count it: what was asked, what was decided, and for a downgrade the
/// model that was asked for (to price the saving from the event that settles the reservation).
/// <see cref="DecisionId"/> is the reservation id when there is one (a retry with the same request_id writes the
/// same row, so a decision is counted once), else derived from the request id, else unique.
/// </summary>
public sealed record BudgetDecisionRecord
{
    public required string TenantId { get; init; }

    public string? TeamId { get; init; }

    public required string DecisionId { get; init; }

    public required DateTimeOffset At { get; init; }

    /// <summary>One of <see cref="BudgetDecisionOutcomes"/>.</summary>
    public required string Outcome { get; init; }

    public required string Provider { get; init; }

    public required string Model { get; init; }

    public string? SuggestedProvider { get; init; }

    public string? SuggestedModel { get; init; }

    public string? ReservationId { get; init; }

    /// <summary>Worst case admitted (reserved); for a downgrade, of the suggested model.</summary>
    public decimal ReservedUsd { get; init; }

    /// <summary>The decision of an authorisation that the budget service answered (valid requests only).</summary>
    public static BudgetDecisionRecord Of(
        string tenantId, string? teamId, string userId, string? requestId, string provider, string model,
        AuthorizationDecision decision, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(decision);
        string outcome = decision.Outcome switch
        {
            AuthorizationOutcome.Deny => BudgetDecisionOutcomes.Denied,
            AuthorizationOutcome.Downgrade => BudgetDecisionOutcomes.Downgraded,
            // An allowed call that names a limiting budget went over a soft budget (the only non-blocking case).
            _ => decision.LimitingBudgetId is null ? BudgetDecisionOutcomes.Admitted : BudgetDecisionOutcomes.SoftOverrun,
        };
        string id = decision.ReservationId
            ?? (requestId is null
                ? "dec_" + Guid.NewGuid().ToString("N")
                : "dec_" + BudgetValidator.NewReservationId(tenantId, userId, requestId, at)[4..]);
        return new BudgetDecisionRecord
        {
            TenantId = tenantId,
            TeamId = teamId,
            DecisionId = id,
            At = at,
            Outcome = outcome,
            Provider = provider,
            Model = model,
            SuggestedProvider = decision.Outcome == AuthorizationOutcome.Downgrade ? decision.SuggestedProvider : null,
            SuggestedModel = decision.Outcome == AuthorizationOutcome.Downgrade ? decision.SuggestedModel : null,
            ReservationId = decision.ReservationId,
            ReservedUsd = decision.ReservedUsd,
        };
    }

    /// <summary>Adds records into counts (the pure part of a decision source).</summary>
    public static BudgetDecisionCounts Count(IEnumerable<BudgetDecisionRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        long admitted = 0, downgraded = 0, soft = 0, denied = 0;
        foreach (BudgetDecisionRecord r in records)
        {
            switch (r.Outcome)
            {
                case BudgetDecisionOutcomes.Admitted: admitted++; break;
                case BudgetDecisionOutcomes.Downgraded: downgraded++; break;
                case BudgetDecisionOutcomes.SoftOverrun: soft++; break;
                case BudgetDecisionOutcomes.Denied: denied++; break;
                default: break;
            }
        }

        return new BudgetDecisionCounts(admitted, downgraded, soft, denied);
    }
}

/// <summary>
/// Where authorisations are recorded for business metrics (and read back as an <see cref="IBudgetDecisionSource"/>).
/// Recording is best effort: the decision has been made and answered whatever happens to its record, so an
/// implementation logs a failed write instead of failing the authorisation.
/// </summary>
public interface IBudgetDecisionLog : IBudgetDecisionSource
{
    Task RecordAsync(BudgetDecisionRecord record, CancellationToken cancellationToken = default);
}
