namespace LlmCost.Core.Rollups;

/// <summary>Where rollups live. Writes REPLACE a whole period (absolute values; groups that vanished are removed).</summary>
public interface IRollupStore
{
    /// <summary>Makes the stored rows of (tenant, granularity, period) exactly <paramref name="rows"/>.</summary>
    Task ReplacePeriodAsync(
        string tenantId, RollupGranularity granularity, DateTimeOffset periodStart, IReadOnlyList<RollupRow> rows,
        CancellationToken cancellationToken = default);

    /// <summary>Rows of periods starting in [from, to), optionally one dimension only.</summary>
    Task<IReadOnlyList<RollupRow>> ReadAsync(
        string tenantId, RollupGranularity granularity, DateTimeOffset fromInclusive, DateTimeOffset toExclusive,
        string? dimension = null, CancellationToken cancellationToken = default);

    /// <summary>The write time the last completed run started from (null before the first run).</summary>
    Task<DateTimeOffset?> GetWatermarkAsync(CancellationToken cancellationToken = default);

    Task SetWatermarkAsync(DateTimeOffset watermark, CancellationToken cancellationToken = default);

    /// <summary>Deletes a tenant's rows of periods starting before <paramref name="before"/> (retention of hour rollups). Returns how many.</summary>
    Task<int> PruneAsync(string tenantId, RollupGranularity granularity, DateTimeOffset before, CancellationToken cancellationToken = default);

    /// <summary>Every tenant that has any day rollup (what the anomaly, report and forecast timers iterate).</summary>
    Task<IReadOnlyList<string>> ListTenantsAsync(CancellationToken cancellationToken = default);
}
