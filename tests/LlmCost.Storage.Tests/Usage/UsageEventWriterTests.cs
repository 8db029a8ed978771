using System.Globalization;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using LlmCost.Storage.Usage;
using Microsoft.Extensions.DependencyInjection;

namespace LlmCost.Storage.Tests.Usage;

public sealed class UsageEventWriterTests
{
    private static UsageEvent Event(string id, string user, DateTimeOffset at, decimal cost, string? team = null, string? reservation = null) => new()
    {
        EventId = id,
        TenantId = "acme",
        UserId = user,
        TeamId = team,
        Provider = "openai",
        Model = "gpt-4o",
        Timestamp = at,
        Usage = new CanonicalUsage { InputTokens = 100, OutputTokens = 10 },
        CostUsd = cost,
        Priced = true,
        ReservationId = reservation,
        RecordedAt = at,
    };

    [Fact]
    public async Task TwoInstancesRacingTheSameEventsRecordEachExactlyOnce()
    {
        // Two writers with separate caches (as two app instances would have) over the same tables: duplicates are
        // only detectable through the 409 on the event row, and the summary rows only through their ETags.
        string prefix = StorageInstance.NewPrefix();
        await using StorageInstance one = await StorageInstance.StartAsync(prefix);
        await using StorageInstance two = await StorageInstance.StartAsync(prefix);
        var start = new DateTimeOffset(2025, 3, 10, 0, 0, 0, TimeSpan.Zero);
        List<UsageEvent> events = Enumerable.Range(0, 600)
            .Select(i => Event($"e{i:D4}", $"u{i % 3}", start.AddMinutes(i * 3), 0.001m * (i % 7 + 1), team: i % 2 == 0 ? "red" : null))
            .ToList();

        var random = new Random(7);
        async Task<List<RecordOutcome>> Send(StorageInstance instance)
        {
            var outcomes = new List<RecordOutcome>();
            foreach (UsageEvent[] batch in events.OrderBy(_ => random.Next()).Chunk(50))
            {
                outcomes.AddRange(await instance.Store.RecordAsync(batch));
            }

            return outcomes;
        }

        List<RecordOutcome>[] results = await Task.WhenAll(Task.Run(() => Send(one)), Task.Run(() => Send(two)), Task.Run(() => Send(one)));

        // Across all three senders, each event got exactly one "recorded" answer; the others say duplicate.
        var recorded = results.SelectMany(r => r).Where(o => !o.Duplicate).Select(o => o.EventId).ToList();
        Assert.Equal(events.Count, recorded.Count);
        Assert.Equal(events.Select(e => e.EventId).Order(), recorded.Order());

        // Every day summary equals the sum of its events.
        TableClient table = one.Storage.Table(UsageTables.Events);
        var sums = new Dictionary<string, (long N, decimal Cost)>();
        await foreach (TableEntity row in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"Kind eq 'event'")))
        {
            sums.TryGetValue(row.PartitionKey, out var s);
            sums[row.PartitionKey] = (s.N + 1, s.Cost + decimal.Parse(row.GetString("CostUsd"), CultureInfo.InvariantCulture));
        }

        Assert.Equal(events.Count, sums.Values.Sum(s => s.N));
        foreach ((string pk, (long n, decimal cost)) in sums)
        {
            TableEntity day = (await table.GetEntityAsync<TableEntity>(pk, UsageTables.DayRowKey)).Value;
            Assert.Equal(n, day.GetInt64("Events"));
            Assert.Equal(cost, decimal.Parse(day.GetString("CostUsd"), CultureInfo.InvariantCulture));
        }

        // The derived tenant rows (written by both instances, in any order) equal the sources: hand-computed total.
        decimal expected = events.Sum(e => e.CostUsd);
        IReadOnlyList<UsageBucket> tenant = await one.Summaries.ReadBucketsAsync(UsageScope.Tenant("acme"), new DateOnly(2025, 3, 10), new DateOnly(2025, 3, 12));
        Assert.Equal(expected, tenant.Sum(b => b.Totals.CostUsd));
        IReadOnlyList<UsageBucket> red = await two.Summaries.ReadBucketsAsync(UsageScope.Team("acme", "red"), new DateOnly(2025, 3, 10), new DateOnly(2025, 3, 12));
        Assert.Equal(events.Where(e => e.TeamId == "red").Sum(e => e.CostUsd), red.Sum(b => b.Totals.CostUsd));
    }

    [Fact]
    public async Task ReadPortsSeeEventsSummariesAndTouchedPartitions()
    {
        await using StorageInstance instance = await StorageInstance.StartAsync(StorageInstance.NewPrefix());
        DateTimeOffset before = DateTimeOffset.UtcNow.AddMinutes(-1);
        var day = new DateTimeOffset(2025, 1, 2, 10, 0, 0, TimeSpan.Zero);
        await instance.Store.RecordAsync([Event("a", "alice", day, 0.5m), Event("b", "alice", day.AddHours(1), 0.25m), Event("c", "bob", day, 1m)]);

        DaySummary? alice = await instance.Summaries.ReadDaySummaryAsync("acme", "alice", new DateOnly(2025, 1, 2));
        Assert.Equal(2, alice!.Totals.Events);
        Assert.Equal(0.75m, alice.Totals.CostUsd);
        Assert.Equal(["alice", "bob"], (await instance.Events.ListUsersAsync("acme", new DateOnly(2025, 1, 2))).Order());
        var tenantDay = new List<string>();
        await foreach (UsageEvent e in instance.Events.ReadTenantDayAsync("acme", new DateOnly(2025, 1, 2)))
        {
            tenantDay.Add(e.EventId);
        }

        Assert.Equal(["a", "b", "c"], tenantDay.Order());
        // Late events (a day long past) are found by when they were WRITTEN.
        IReadOnlyCollection<UserDay> touched = await instance.Events.PartitionsTouchedSinceAsync(before);
        Assert.Contains(new UserDay("acme", "alice", new DateOnly(2025, 1, 2)), touched);
        Assert.Contains(new UserDay("acme", "bob", new DateOnly(2025, 1, 2)), touched);
    }

    [Fact]
    public async Task RepairRewritesLostDerivedRowsFromTheSource()
    {
        await using StorageInstance instance = await StorageInstance.StartAsync(StorageInstance.NewPrefix());
        DateTimeOffset before = DateTimeOffset.UtcNow.AddMinutes(-1);
        var at = new DateTimeOffset(2025, 1, 3, 10, 0, 0, TimeSpan.Zero);
        await instance.Store.RecordAsync([Event("r1", "rita", at, 0.5m, team: "ops"), Event("r2", "rita", at.AddHours(2), 0.25m, team: "ops")]);

        // Simulate a crash between the commit and the projection: the derived rows are gone.
        TableClient scopes = instance.Storage.Table(UsageTables.Scopes);
        await foreach (TableEntity row in scopes.QueryAsync<TableEntity>())
        {
            await scopes.DeleteEntityAsync(row.PartitionKey, row.RowKey);
        }

        Assert.Empty(await instance.Summaries.ReadBucketsAsync(UsageScope.Team("acme", "ops"), new DateOnly(2025, 1, 3), new DateOnly(2025, 1, 3)));
        await using StorageInstance fresh = await StorageInstance.StartAsync(instance.Storage.Names.Prefix); // a restarted instance
        await fresh.Repair.RepairSinceAsync(before);
        await fresh.Repair.RepairSinceAsync(before); // idempotent
        IReadOnlyList<UsageBucket> team = await fresh.Summaries.ReadBucketsAsync(UsageScope.Team("acme", "ops"), new DateOnly(2025, 1, 3), new DateOnly(2025, 1, 3));
        Assert.Equal(0.75m, team.Sum(b => b.Totals.CostUsd));
        Assert.Equal(2, team.Sum(b => b.Totals.Events));
    }

    [Fact]
    public async Task ContributedRowsCommitWithTheEventsOrNotAtAll()
    {
        string prefix = StorageInstance.NewPrefix();
        await using StorageInstance instance = await StorageInstance.StartAsync(prefix, s => s.AddSingleton<IPartitionContributor, SettleReservations>());
        var at = new DateTimeOffset(2025, 1, 4, 10, 0, 0, TimeSpan.Zero);
        TableClient table = instance.Storage.Table(UsageTables.Events);
        string pk = StorageKeys.UserDayPartition("acme", "sam", at);
        // A reservation row that settlement must remove in the same transaction as the event.
        await table.AddEntityAsync(new TableEntity(pk, "~x|res|r-1") { ["AmountUsd"] = "2.00" });

        IReadOnlyList<RecordOutcome> outcomes = await instance.Store.RecordAsync([Event("s1", "sam", at, 0.4m, reservation: "r-1")]);
        Assert.False(outcomes[0].Duplicate);
        Assert.False((await table.GetEntityIfExistsAsync<TableEntity>(pk, "~x|res|r-1")).HasValue);
        Assert.Equal("0.4", (await table.GetEntityAsync<TableEntity>(pk, "~x|settled|r-1")).Value.GetString("CostUsd"));

        // A contribution that cannot apply (it deletes a row that no longer exists, pinned to a stale ETag) fails
        // the whole transaction: the event is not stored and its summary is not counted.
        await Assert.ThrowsAnyAsync<Exception>(() => instance.Store.RecordAsync([Event("s2", "sam", at, 0.3m, reservation: "r-gone")]));
        Assert.False((await table.GetEntityIfExistsAsync<TableEntity>(pk, "s2")).HasValue);
        Assert.Equal(1, (await table.GetEntityAsync<TableEntity>(pk, UsageTables.DayRowKey)).Value.GetInt64("Events"));
    }

    /// <summary>A budgets-like contributor: replaces each event's reservation row with a settlement row.</summary>
    private sealed class SettleReservations : IPartitionContributor
    {
        public async Task<IReadOnlyList<PartitionRowOperation>> ContributeAsync(PartitionBatch batch, IPartitionRowReader rows, CancellationToken cancellationToken = default)
        {
            var operations = new List<PartitionRowOperation>();
            foreach (UsageEvent e in batch.Events.Where(e => e.ReservationId is not null))
            {
                PartitionRow? reservation = await rows.ReadAsync($"~x|res|{e.ReservationId}", cancellationToken);
                operations.Add(new PartitionRowOperation(PartitionRowOperationKind.Delete, $"~x|res|{e.ReservationId}",
                    new Dictionary<string, object?>(), reservation?.ETag ?? "W/\"datetime'2000-01-01T00%3A00%3A00.0000000Z'\""));
                operations.Add(new PartitionRowOperation(PartitionRowOperationKind.UpsertReplace, $"~x|settled|{e.ReservationId}",
                    new Dictionary<string, object?> { ["CostUsd"] = e.CostUsd }));
            }

            return operations;
        }
    }
}
