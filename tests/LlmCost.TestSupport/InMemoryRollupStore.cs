using LlmCost.Core.Rollups;

namespace LlmCost.Tests.Shared;

/// <summary>In-memory rollup store, held to the port by RollupStoreContractTests like the Table Storage one.</summary>
public sealed class InMemoryRollupStore : IRollupStore
{
    private readonly List<RollupRow> _rows = [];
    private DateTimeOffset? _watermark;

    public Task ReplacePeriodAsync(string tenantId, RollupGranularity granularity, DateTimeOffset periodStart, IReadOnlyList<RollupRow> rows, CancellationToken cancellationToken = default)
    {
        _rows.RemoveAll(r => r.TenantId == tenantId && r.Granularity == granularity && r.PeriodStart == periodStart);
        _rows.AddRange(rows);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<RollupRow>> ReadAsync(string tenantId, RollupGranularity granularity, DateTimeOffset fromInclusive, DateTimeOffset toExclusive, string? dimension = null, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<RollupRow>>([.. _rows.Where(r => r.TenantId == tenantId && r.Granularity == granularity && r.PeriodStart >= fromInclusive && r.PeriodStart < toExclusive && (dimension is null || r.Dimension == dimension))]);

    public Task<DateTimeOffset?> GetWatermarkAsync(CancellationToken cancellationToken = default) => Task.FromResult(_watermark);

    public Task SetWatermarkAsync(DateTimeOffset watermark, CancellationToken cancellationToken = default)
    {
        _watermark = watermark;
        return Task.CompletedTask;
    }

    public Task<int> PruneAsync(string tenantId, RollupGranularity granularity, DateTimeOffset before, CancellationToken cancellationToken = default) =>
        Task.FromResult(_rows.RemoveAll(r => r.TenantId == tenantId && r.Granularity == granularity && r.PeriodStart < before));

    public Task<IReadOnlyList<string>> ListTenantsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. _rows.Where(r => r.Granularity == RollupGranularity.Day).Select(r => r.TenantId).Distinct().Order(StringComparer.Ordinal)]);
}
