namespace LlmCost.Core.Rollups;

public sealed record RollupOptions
{
    /// <summary>Re-read events written this long before the watermark too (clock skew between writers).</summary>
    public TimeSpan Overlap { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>On the very first run, look back this far.</summary>
    public TimeSpan FirstRunLookback { get; init; } = TimeSpan.FromDays(2);
}

public sealed record RollupRunResult(int DaysRecomputed, int MonthsRecomputed, DateTimeOffset Watermark);

/// <summary>
/// One rollup pass: find the tenant-days whose events were written since the last watermark (late events
/// included, whatever their timestamp), recompute each such day from ALL its events, then each touched month from
/// its day rows. Only absolute values are written, so a rerun, a crash half-way or two overlapping runs converge on
/// the same rows. The watermark moves to the run's START time only after every day is written.
/// </summary>
public sealed class RollupRunner(IUsageFactSource source, IRollupStore store, TimeProvider timeProvider, RollupOptions? options = null)
{
    private readonly RollupOptions _options = options ?? new RollupOptions();

    public async Task<RollupRunResult> RunAsync(CancellationToken cancellationToken = default)
    {
        var startedAt = timeProvider.GetUtcNow();
        var watermark = await store.GetWatermarkAsync(cancellationToken).ConfigureAwait(false);
        var since = watermark is { } w ? w - _options.Overlap : startedAt - _options.FirstRunLookback;
        var touched = await source.DaysTouchedSinceAsync(since, cancellationToken).ConfigureAwait(false);

        var months = new HashSet<(string, DateTimeOffset)>();
        foreach (var tenantDay in touched.Distinct().OrderBy(t => t.TenantId, StringComparer.Ordinal).ThenBy(t => t.Day))
        {
            await RecomputeDayAsync(tenantDay.TenantId, tenantDay.Day, cancellationToken).ConfigureAwait(false);
            months.Add((tenantDay.TenantId, RollupPeriods.StartOf(RollupGranularity.Month, RollupPeriods.StartOfDay(tenantDay.Day))));
        }

        foreach (var (tenantId, monthStart) in months)
        {
            await RecomputeMonthAsync(tenantId, monthStart, cancellationToken).ConfigureAwait(false);
        }

        await store.SetWatermarkAsync(startedAt, cancellationToken).ConfigureAwait(false);
        return new RollupRunResult(touched.Count, months.Count, startedAt);
    }

    public async Task RecomputeDayAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default)
    {
        var facts = new List<UsageFact>();
        await foreach (var fact in source.ReadDayAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
        {
            facts.Add(fact);
        }

        var computed = RollupCalculator.ComputeDay(tenantId, day, facts);
        var dayStart = RollupPeriods.StartOfDay(day);
        // Every hour that has rows now OR had rows before is considered, so an hour whose events were deleted (GDPR)
        // does not keep stale rows; an hour whose stored rows already equal the recomputed ones is not rewritten, so
        // a rerun is read-only.
        var stored = (await store.ReadAsync(tenantId, RollupGranularity.Hour, dayStart, dayStart.AddDays(1), cancellationToken: cancellationToken)
            .ConfigureAwait(false)).ToLookup(r => r.PeriodStart);
        var fresh = computed.HourRows.ToLookup(r => r.PeriodStart);
        foreach (var hour in fresh.Select(g => g.Key).Concat(stored.Select(g => g.Key)).Distinct().Order())
        {
            var rows = fresh[hour].ToList();
            if (!SameRows(rows, stored[hour]))
            {
                await store.ReplacePeriodAsync(tenantId, RollupGranularity.Hour, hour, rows, cancellationToken).ConfigureAwait(false);
            }
        }

        var storedDay = await store.ReadAsync(tenantId, RollupGranularity.Day, dayStart, dayStart.AddDays(1), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        if (!SameRows(computed.DayRows, storedDay))
        {
            await store.ReplacePeriodAsync(tenantId, RollupGranularity.Day, dayStart, computed.DayRows, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task RecomputeMonthAsync(string tenantId, DateTimeOffset monthStart, CancellationToken cancellationToken = default)
    {
        var dayRows = await store.ReadAsync(
            tenantId, RollupGranularity.Day, monthStart, monthStart.AddMonths(1), cancellationToken: cancellationToken).ConfigureAwait(false);
        var rows = RollupCalculator.ComputeMonth(tenantId, monthStart, dayRows);
        var stored = await store.ReadAsync(tenantId, RollupGranularity.Month, monthStart, monthStart.AddMonths(1), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        if (!SameRows(rows, stored))
        {
            await store.ReplacePeriodAsync(tenantId, RollupGranularity.Month, monthStart, rows, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Same groups with the same figures (decimal equality: 1.50 equals 1.5).</summary>
    private static bool SameRows(IEnumerable<RollupRow> a, IEnumerable<RollupRow> b)
    {
        var left = a.ToDictionary(r => (r.Dimension, r.Key));
        var right = b.ToList();
        return left.Count == right.Count && right.All(r => left.TryGetValue((r.Dimension, r.Key), out var l) && l == r);
    }
}
