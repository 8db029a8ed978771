using LlmCost.Core.Rollups;
using LlmCost.Storage.Operations;

namespace LlmCost.Storage.Tests.Operations;

public sealed class RollupStoreTests
{
    private static RollupRow Row(RollupGranularity g, DateTimeOffset period, string dimension, string key, decimal cost) => new()
    {
        TenantId = "t1", Granularity = g, PeriodStart = period, Dimension = dimension, Key = key, Requests = 1, CostUsd = cost,
    };

    [Fact]
    public async Task Replace_removes_vanished_groups_reads_ranges_and_prunes_old_hours_only()
    {
        var store = new TableRollupStore(await OpsStorage.CreateAsync());
        var h1 = new DateTimeOffset(2025, 1, 1, 5, 0, 0, TimeSpan.Zero);
        var h2 = new DateTimeOffset(2026, 11, 23, 5, 0, 0, TimeSpan.Zero);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Hour, h1, [Row(RollupGranularity.Hour, h1, "model", "openai/gpt-4o", 1.5m), Row(RollupGranularity.Hour, h1, "user", "a#b?c", 2m)]);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Hour, h1, [Row(RollupGranularity.Hour, h1, "model", "openai/gpt-4o", 0.000001m)]);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Hour, h2, [Row(RollupGranularity.Hour, h2, "tenant", "t1", 3m)]);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Day, h1.Date, [Row(RollupGranularity.Day, new DateTimeOffset(h1.Date, TimeSpan.Zero), "tenant", "t1", 9m)]);

        var first = Assert.Single(await store.ReadAsync("t1", RollupGranularity.Hour, h1, h1.AddHours(1)));
        Assert.Equal(("openai/gpt-4o", 0.000001m), (first.Key, first.CostUsd));
        Assert.Equal(2, (await store.ReadAsync("t1", RollupGranularity.Hour, h1, h2.AddHours(1))).Count);
        Assert.Empty(await store.ReadAsync("t1", RollupGranularity.Hour, h1.AddHours(1), h2));

        Assert.Equal(1, await store.PruneAsync("t1", RollupGranularity.Hour, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(h2, Assert.Single(await store.ReadAsync("t1", RollupGranularity.Hour, h1, h2.AddHours(1))).PeriodStart);
        Assert.Single(await store.ReadAsync("t1", RollupGranularity.Day, h1.Date, h2));
    }
}
