namespace LlmCost.Core.Alerts;

/// <summary>What an alert is about.</summary>
public static class AlertKinds
{
    public const string BudgetThreshold = "budget_threshold";
    public const string BudgetProjectedOverrun = "budget_projected_overrun";
    public const string CircuitBreaker = "circuit_breaker";

    /// <summary>Actual spend passed a hard (or adaptive) budget's limit: a late settlement, or a call costing more than its worst case.</summary>
    public const string BudgetOverspend = "budget_overspend";
    public const string CostAnomaly = "cost_anomaly";
    public const string TokenSpike = "token_spike";
    public const string ErrorRateSpike = "error_rate_spike";
    public const string UnpricedModel = "unpriced_model";

    /// <summary>A provider's own reported cost differs from ours beyond the tolerance: a price is wrong on one side.</summary>
    public const string ReportedCostMismatch = "reported_cost_mismatch";

    /// <summary>The weekly digest of cost recommendations (not a problem: advice, sent through the same channels).</summary>
    public const string AdviceDigest = "advice_digest";
}

/// <summary>
/// One alert, produced by budgets (thresholds, projections, circuit breaker) or anomaly detection, delivered
/// at-least-once by the alert pipeline. <see cref="AlertId"/> is stable and deterministic for what it reports
/// (e.g. budget+period+threshold), so a re-raised alert has the same id and receivers can de-duplicate.
/// </summary>
public sealed record Alert
{
    public required string AlertId { get; init; }
    public required string Kind { get; init; }
    public required string TenantId { get; init; }

    /// <summary>"tenant" | "team" | "user" | "key".</summary>
    public required string Scope { get; init; }

    public required string ScopeId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public string? BudgetId { get; init; }
    public decimal? ThresholdPercent { get; init; }
    public string? Message { get; init; }

    /// <summary>Kind-specific figures (observed, baseline, z-score, spent_usd, ...), as strings for exactness.</summary>
    public IReadOnlyDictionary<string, string> Details { get; init; } = new Dictionary<string, string>();
}

/// <summary>Hands alerts to the alert pipeline (queue → fan-out). Implementations must be idempotent per AlertId.</summary>
public interface IAlertPublisher
{
    Task PublishAsync(IReadOnlyList<Alert> alerts, CancellationToken cancellationToken = default);
}
