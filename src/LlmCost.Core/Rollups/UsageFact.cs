using LlmCost.Core.Usage;

namespace LlmCost.Core.Rollups;

/// <summary>
/// The part of one stored usage event that rollups, anomaly detection, reports and retention need. Read from the
/// event store through <see cref="IUsageFactSource"/>; never written by this module.
/// </summary>
public sealed record UsageFact
{
    public required string EventId { get; init; }
    public required string TenantId { get; init; }
    public string? TeamId { get; init; }
    public required string UserId { get; init; }
    public required string Provider { get; init; }
    public required string Model { get; init; }
    public required DateTimeOffset Timestamp { get; init; }
    public decimal CostUsd { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }

    /// <summary>Every usage unit of the event (requests excluded), for per-unit rollups and reports.</summary>
    public CanonicalUsage Units { get; init; } = CanonicalUsage.None;

    /// <summary>The provider-reported cost, when the event carried one.</summary>
    public decimal? ReportedCostUsd { get; init; }

    /// <summary>False when no price was found: the cost is then 0 but the row is visible as unpriced.</summary>
    public bool Priced { get; init; } = true;

    /// <summary>False when the provider call failed (the event's status); feeds the error-rate spike detector.</summary>
    public bool Succeeded { get; init; } = true;
}

/// <summary>A (tenant, UTC day) pair whose events changed.</summary>
public readonly record struct TenantDay(string TenantId, DateOnly Day);

/// <summary>Read port over the raw usage events (implemented over the recorded events in LlmCost.Storage).</summary>
public interface IUsageFactSource
{
    /// <summary>All events of one tenant whose timestamp falls on <paramref name="day"/> (UTC).</summary>
    IAsyncEnumerable<UsageFact> ReadDayAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every (tenant, day) with at least one event WRITTEN at or after <paramref name="since"/>, whatever the
    /// event's own timestamp: this is how late events reach the rollups.
    /// </summary>
    Task<IReadOnlyCollection<TenantDay>> DaysTouchedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default);
}
