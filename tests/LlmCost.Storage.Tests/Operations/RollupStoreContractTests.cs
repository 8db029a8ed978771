using LlmCost.Core.Rollups;
using LlmCost.Storage.Operations;
using LlmCost.Tests.Shared;

namespace LlmCost.Storage.Tests.Operations;

/// <summary>What every <see cref="IRollupStore"/> must do, run against the Table Storage store and the in-memory double.</summary>
public abstract class RollupStoreContractTests
{
    protected abstract Task<IRollupStore> CreateStoreAsync();

    private static RollupRow Row(string tenant, RollupGranularity g, DateTimeOffset period, string dimension, string key, decimal cost) => new()
    {
        TenantId = tenant, Granularity = g, PeriodStart = period, Dimension = dimension, Key = key, Requests = 1, CostUsd = cost,
    };

    [Fact]
    public async Task Replace_removes_vanished_groups_reads_ranges_and_prunes_old_hours_only()
    {
        var store = await CreateStoreAsync();
        var h1 = new DateTimeOffset(2025, 1, 1, 5, 0, 0, TimeSpan.Zero);
        var h2 = new DateTimeOffset(2026, 11, 23, 5, 0, 0, TimeSpan.Zero);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Hour, h1, [Row("t1", RollupGranularity.Hour, h1, "model", "openai/gpt-4o", 1.5m), Row("t1", RollupGranularity.Hour, h1, "user", "a#b?c", 2m)]);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Hour, h1, [Row("t1", RollupGranularity.Hour, h1, "model", "openai/gpt-4o", 0.000001m)]);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Hour, h2, [Row("t1", RollupGranularity.Hour, h2, "tenant", "t1", 3m)]);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Day, h1.Date, [Row("t1", RollupGranularity.Day, new DateTimeOffset(h1.Date, TimeSpan.Zero), "tenant", "t1", 9m)]);

        var first = Assert.Single(await store.ReadAsync("t1", RollupGranularity.Hour, h1, h1.AddHours(1)));
        Assert.Equal(("openai/gpt-4o", 0.000001m), (first.Key, first.CostUsd));
        Assert.Equal(2, (await store.ReadAsync("t1", RollupGranularity.Hour, h1, h2.AddHours(1))).Count);
        Assert.Empty(await store.ReadAsync("t1", RollupGranularity.Hour, h1.AddHours(1), h2));

        Assert.Equal(1, await store.PruneAsync("t1", RollupGranularity.Hour, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(h2, Assert.Single(await store.ReadAsync("t1", RollupGranularity.Hour, h1, h2.AddHours(1))).PeriodStart);
        Assert.Single(await store.ReadAsync("t1", RollupGranularity.Day, h1.Date, h2));
    }

    [Fact]
    public async Task Reads_filter_by_dimension_and_never_cross_tenants()
    {
        var store = await CreateStoreAsync();
        var day = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Day, day, [Row("t1", RollupGranularity.Day, day, "user", "u1", 1m), Row("t1", RollupGranularity.Day, day, "team", "red", 1m)]);
        await store.ReplacePeriodAsync("t2", RollupGranularity.Day, day, [Row("t2", RollupGranularity.Day, day, "user", "u1", 7m)]);

        var users = await store.ReadAsync("t1", RollupGranularity.Day, day, day.AddDays(1), "user");
        Assert.Equal(1m, Assert.Single(users).CostUsd);
        Assert.Equal(2, (await store.ReadAsync("t1", RollupGranularity.Day, day, day.AddDays(1))).Count);
    }

    [Fact]
    public async Task Tenants_are_those_with_day_rollups_and_the_watermark_round_trips()
    {
        var store = await CreateStoreAsync();
        var hour = new DateTimeOffset(2026, 3, 1, 7, 0, 0, TimeSpan.Zero);
        await store.ReplacePeriodAsync("hours-only", RollupGranularity.Hour, hour, [Row("hours-only", RollupGranularity.Hour, hour, "tenant", "hours-only", 1m)]);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Day, hour.Date, [Row("t1", RollupGranularity.Day, new DateTimeOffset(hour.Date, TimeSpan.Zero), "tenant", "t1", 1m)]);
        Assert.Equal(["t1"], await store.ListTenantsAsync());

        Assert.Null(await store.GetWatermarkAsync());
        await store.SetWatermarkAsync(hour);
        Assert.Equal(hour, await store.GetWatermarkAsync());
    }
}

public sealed class TableRollupStoreContractTests : RollupStoreContractTests
{
    protected override async Task<IRollupStore> CreateStoreAsync() => new TableRollupStore(await OpsStorage.CreateAsync());
}

public sealed class InMemoryRollupStoreContractTests : RollupStoreContractTests
{
    protected override Task<IRollupStore> CreateStoreAsync() => Task.FromResult<IRollupStore>(new InMemoryRollupStore());
}
