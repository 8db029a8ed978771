using System.Globalization;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using LlmCost.Storage.Recording;
using Microsoft.Extensions.DependencyInjection;

namespace LlmCost.Storage.Tests.Recording;

/// <summary>The ingest log and its projector against Azurite: exactly once per (tenant, event id), durable intent, repair.</summary>
public sealed class UsageIngestTests
{
    private static readonly Dictionary<string, string?> Dead = new() { ["LlmCost:Usage:Ingest:RunProjector"] = "false" };
    private static readonly Dictionary<string, string?> EagerSweep = new() { ["LlmCost:Usage:Ingest:SweepAge"] = "00:00:00", ["LlmCost:Usage:Ingest:SweepInterval"] = "00:00:00.200" };

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
        await one.Projector.DrainAsync();
        await two.Projector.DrainAsync();

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
        await instance.Projector.DrainAsync();

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
    public async Task AnIdIsUniqueWithinItsTenantWhateverUserOrDayTheResendCarries()
    {
        await using StorageInstance instance = await StorageInstance.StartAsync(StorageInstance.NewPrefix());
        var at = new DateTimeOffset(2025, 1, 5, 23, 59, 0, TimeSpan.Zero);
        Assert.False((await instance.Store.RecordAsync([Event("x1", "xena", at, 0.5m)]))[0].Duplicate);

        // A retry across midnight that re-stamps the time, and a resend under another user: both duplicates, both
        // answered with the STORED cost, and nothing counted in either day or user.
        IReadOnlyList<RecordOutcome> resent = await instance.Store.RecordAsync([Event("x1", "xena", at.AddMinutes(2), 9m), Event("x1", "yuri", at, 7m)]);
        Assert.All(resent, o => Assert.True(o.Duplicate));
        Assert.All(resent, o => Assert.Equal(0.5m, o.CostUsd));
        // Another tenant may use the same id.
        Assert.False((await instance.Store.RecordAsync([Event("x1", "xena", at, 0.1m) with { TenantId = "globex" }]))[0].Duplicate);

        Assert.Equal(1, (await instance.Summaries.ReadDaySummaryAsync("acme", "xena", new DateOnly(2025, 1, 5)))!.Totals.Events);
        Assert.Null(await instance.Summaries.ReadDaySummaryAsync("acme", "xena", new DateOnly(2025, 1, 6)));
        Assert.Null(await instance.Summaries.ReadDaySummaryAsync("acme", "yuri", new DateOnly(2025, 1, 5)));
        IReadOnlyList<UsageBucket> tenant = await instance.Summaries.ReadBucketsAsync(UsageScope.Tenant("acme"), new DateOnly(2025, 1, 5), new DateOnly(2025, 1, 6));
        Assert.Equal(0.5m, tenant.Sum(b => b.Totals.CostUsd));
    }

    [Fact]
    public async Task TheRecentIdsCacheNeverAnswersDuplicateForAnEventStorageDoesNotHold()
    {
        await using StorageInstance instance = await StorageInstance.StartAsync(StorageInstance.NewPrefix());
        var at = new DateTimeOffset(2025, 1, 6, 8, 0, 0, TimeSpan.Zero);
        await instance.Store.RecordAsync([Event("lost-1", "lena", at, 0.5m)]);
        await instance.Projector.DrainAsync();

        // Storage loses the write (as an emulator restart would): the event and its id row are gone.
        await instance.Maintenance.DeleteUserAsync("acme", "lena");
        TableClient events = instance.Storage.Table(UsageTables.Events);
        string pk = StorageKeys.UserDayPartition("acme", "lena", at);
        await foreach (TableEntity row in events.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {pk}")))
        {
            await events.DeleteEntityAsync(row.PartitionKey, row.RowKey);
        }

        // The same instance (whose cache remembers the id) records the resend as new, and it is counted again.
        RecordOutcome outcome = (await instance.Store.RecordAsync([Event("lost-1", "lena", at, 0.5m)]))[0];
        Assert.False(outcome.Duplicate);
        await using StorageInstance fresh = await StorageInstance.StartAsync(instance.Storage.Names.Prefix);
        await instance.Projector.DrainAsync();
        Assert.Equal(1, (await fresh.Summaries.ReadDaySummaryAsync("acme", "lena", new DateOnly(2025, 1, 6)))!.Totals.Events);
    }

    [Fact]
    public async Task EventsAcknowledgedByAnInstanceThatDiedAreAppliedOnceByAnotherInstancesSweep()
    {
        string prefix = StorageInstance.NewPrefix();
        var budget = new CountingObserver();
        var at = new DateTimeOffset(2025, 1, 7, 9, 0, 0, TimeSpan.Zero);
        List<UsageEvent> events = Enumerable.Range(0, 120)
            .Select(i => Event($"d{i:D3}", $"u{i % 7}", at.AddMinutes(i), 0.01m * (i % 5 + 1), team: i % 3 == 0 ? "blue" : null))
            .ToList();

        // The dying instance acknowledges every event (durably in the log) and never projects any.
        await using (StorageInstance dying = await StorageInstance.StartAsync(prefix, settings: Dead))
        {
            Assert.All(await dying.Store.RecordAsync(events), o => Assert.False(o.Duplicate));
        }

        await using StorageInstance survivor = await StorageInstance.StartAsync(prefix, s => s.AddSingleton<IUsageRecordedObserver>(budget), EagerSweep);
        await WaitUntilAsync(async () => (await PendingRowsAsync(survivor)) == 0);

        Assert.Equal(events.Sum(e => e.CostUsd), budget.Total);
        Assert.Equal(events.Count, budget.Distinct);
        await AssertDerivedRowsEqualEventsAsync(survivor, events);
    }

    [Fact]
    public async Task ACycleCutShortAfterTheUserDayCommitIsReplayedWithoutCountingTwice()
    {
        string prefix = StorageInstance.NewPrefix();
        var budget = new CountingObserver();
        var at = new DateTimeOffset(2025, 1, 8, 9, 0, 0, TimeSpan.Zero);
        List<UsageEvent> events = Enumerable.Range(0, 60).Select(i => Event($"c{i:D3}", $"u{i % 4}", at.AddMinutes(i), 0.02m, team: "red")).ToList();
        await using StorageInstance first = await StorageInstance.StartAsync(prefix, s => s.AddSingleton<IUsageRecordedObserver>(budget), Dead);
        await first.Store.RecordAsync(events);

        // Keep a copy of the batch rows, let a projector apply everything, then put them back: exactly the state a
        // crash after the user-day commits (before the batch rows were deleted) leaves behind. Scope rows lost too.
        TableClient log = first.Storage.Table(UsageIngestLog.Table);
        List<TableEntity> pending = await PendingRowListAsync(first);
        Assert.All(pending, row => Assert.Equal(UsageIngestLog.KindBatch, row.GetString("Kind")));
        Assert.Equal(events.Count, pending.Sum(row => row.GetInt32("Events")));
        Assert.True(pending.Count < events.Count, "events share batch rows");
        await first.Projector.DrainAsync();
        foreach (TableEntity row in pending)
        {
            await log.AddEntityAsync(row);
        }

        TableClient scopes = first.Storage.Table(UsageTables.Scopes);
        await foreach (TableEntity row in scopes.QueryAsync<TableEntity>())
        {
            await scopes.DeleteEntityAsync(row.PartitionKey, row.RowKey);
        }

        await using StorageInstance second = await StorageInstance.StartAsync(prefix, s => s.AddSingleton<IUsageRecordedObserver>(budget), EagerSweep);
        await WaitUntilAsync(async () => (await PendingRowsAsync(second)) == 0);

        Assert.True(budget.Calls >= 2 * events.Count, "the replay hands the events to the observers again (at least once)");
        Assert.Equal(events.Sum(e => e.CostUsd), budget.Total); // ... and an idempotent observer counts each once
        await AssertDerivedRowsEqualEventsAsync(second, events);
    }

    [Fact]
    public async Task EventsAlreadyAppliedFromAPartlyProjectedBatchRowAreNotCountedAgain()
    {
        // A cycle that died half-way: some events of a batch row reached their user-day partitions, team/tenant rows
        // and observers, the row itself is still there. Applying the row again counts only the rest.
        string prefix = StorageInstance.NewPrefix();
        var budget = new CountingObserver();
        var at = new DateTimeOffset(2025, 1, 9, 9, 0, 0, TimeSpan.Zero);
        List<UsageEvent> events = Enumerable.Range(0, 80).Select(i => Event($"p{i:D3}", $"u{i % 6}", at.AddMinutes(i), 0.01m * (i % 3 + 1), team: i % 2 == 0 ? "red" : null)).ToList();
        await using StorageInstance first = await StorageInstance.StartAsync(prefix, s => s.AddSingleton<IUsageRecordedObserver>(budget), Dead);
        await first.Store.RecordAsync(events);
        List<TableEntity> rows = await PendingRowListAsync(first);
        Assert.Equal(events.Count, rows.Sum(r => r.GetInt32("Events")));

        // Apply every other event of every batch row under a throw-away key (so no real row is deleted).
        foreach (IGrouping<string, TableEntity> partition in rows.GroupBy(r => r.PartitionKey))
        {
            List<UsageEvent> half = partition.SelectMany(UsageIngestLog.ReadPending).Where((_, i) => i % 2 == 0).ToList();
            await first.Projector.ProjectAsync(partition.Key, [new PendingBatch(UsageIngestLog.BatchRowKey(at, "partial"), half, [])], "test");
        }

        Assert.True(budget.Distinct is > 0 and < 80);
        await using StorageInstance second = await StorageInstance.StartAsync(prefix, s => s.AddSingleton<IUsageRecordedObserver>(budget), EagerSweep);
        await WaitUntilAsync(async () => (await PendingRowsAsync(second)) == 0);

        Assert.Equal(events.Count, budget.Distinct);
        Assert.Equal(events.Sum(e => e.CostUsd), budget.Total);
        await AssertDerivedRowsEqualEventsAsync(second, events);
    }

    [Fact]
    public async Task TwoProjectorsApplyingTheSameBatchRowsAtOnceCountEachEventOnce()
    {
        // The owner's projector and another instance's sweep read the same batch rows and run the whole cycle at the
        // same moment: each event is counted once, every total is exact, and both delete the rows without failing.
        string prefix = StorageInstance.NewPrefix();
        var budget = new CountingObserver();
        var at = new DateTimeOffset(2025, 1, 10, 9, 0, 0, TimeSpan.Zero);
        List<UsageEvent> events = Enumerable.Range(0, 300).Select(i => Event($"t{i:D3}", $"u{i % 11}", at.AddMinutes(i), 0.001m * (i % 7 + 1), team: i % 3 == 0 ? "blue" : null)).ToList();
        await using StorageInstance a = await StorageInstance.StartAsync(prefix, s => s.AddSingleton<IUsageRecordedObserver>(budget), Dead);
        await using StorageInstance b = await StorageInstance.StartAsync(prefix, s => s.AddSingleton<IUsageRecordedObserver>(budget), Dead);
        await a.Store.RecordAsync(events);
        List<TableEntity> rows = await PendingRowListAsync(a);

        Task Project(StorageInstance instance) => Task.WhenAll(rows.GroupBy(r => r.PartitionKey).Select(partition => Task.Run(() =>
            instance.Projector.ProjectAsync(partition.Key, partition.Select(r => new PendingBatch(r.RowKey, UsageIngestLog.ReadPending(r), [])).ToList(), "test"))));
        await Task.WhenAll(Project(a), Project(b));

        Assert.Equal(0, await PendingRowsAsync(a));
        Assert.True(budget.Calls >= events.Count);
        Assert.Equal(events.Count, budget.Distinct);
        Assert.Equal(events.Sum(e => e.CostUsd), budget.Total);
        await AssertDerivedRowsEqualEventsAsync(a, events);
        await AssertDerivedRowsEqualEventsAsync(b, events);
    }

    [Fact]
    public async Task PendingRowsOfThePreviousOneEventFormatAreStillApplied()
    {
        // What the previous version left in the log at an upgrade: per event an id row and a pending row holding the
        // whole event as an event-shaped entity (RowKey ~p|{ticks}|{event id}, Kind "pending").
        string prefix = StorageInstance.NewPrefix();
        var at = new DateTimeOffset(2025, 1, 11, 9, 0, 0, TimeSpan.Zero);
        List<UsageEvent> events = Enumerable.Range(0, 25).Select(i => Event($"old{i:D2}", $"u{i % 4}", at.AddMinutes(i), 0.05m, team: "ops")).ToList();
        await using (StorageInstance writer = await StorageInstance.StartAsync(prefix, settings: Dead))
        {
            TableClient log = writer.Storage.Table(UsageIngestLog.Table);
            foreach (UsageEvent e in events)
            {
                string partition = UsageIngestLog.Partition(e.TenantId, UsageIngestLog.Shard(e.EventId, 4));
                string key = $"{UsageIngestLog.PendingPrefix}{e.RecordedAt.UtcTicks:D19}|{e.EventId}";
                TableEntity pending = UsageRows.EventEntity(partition, e);
                pending.RowKey = key;
                pending["Kind"] = UsageIngestLog.KindPending;
                pending["EventId"] = e.EventId;
                await log.SubmitTransactionAsync([
                    new TableTransactionAction(TableTransactionActionType.Add, UsageIngestLog.IdEntity(partition, e, "old-version")),
                    new TableTransactionAction(TableTransactionActionType.Add, pending),
                ]);
                await writer.Storage.Table(UsageIngestLog.ActiveTable).UpsertEntityAsync(
                    new TableEntity(UsageIngestLog.ActivePartition, partition) { ["LastWrite"] = UsageIngestLog.ActiveHour(DateTimeOffset.UtcNow) });
            }
        }

        await using StorageInstance upgraded = await StorageInstance.StartAsync(prefix, settings: EagerSweep);
        await WaitUntilAsync(async () => (await PendingRowsAsync(upgraded)) == 0);
        await AssertDerivedRowsEqualEventsAsync(upgraded, events);
        // Their id rows still answer duplicates.
        Assert.All(await upgraded.Store.RecordAsync([events[0], events[24]]), o => Assert.True(o.Duplicate));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ErasingAUserTakesTheirEventsOutOfPendingBatchRowsAndKeepsTheOthers(bool appliedByTheWriter)
    {
        // Applied by the writer: its own queued copies must lose the user's events too. Otherwise another instance
        // applies what is left in storage (the writer died).
        string prefix = StorageInstance.NewPrefix();
        var at = new DateTimeOffset(2025, 1, 12, 9, 0, 0, TimeSpan.Zero);
        // Alternating users, one call: lena's and max's events share batch rows.
        List<UsageEvent> events = Enumerable.Range(0, 40).Select(i => Event($"g{i:D2}", i % 2 == 0 ? "lena" : "max", at.AddMinutes(i), 0.1m)).ToList();
        await using StorageInstance writer = await StorageInstance.StartAsync(prefix, settings: Dead);
        await writer.Store.RecordAsync(events);
        Assert.Contains(await PendingRowListAsync(writer), r => IngestBatchRow.Read(r).Select(e => e.UserId).Distinct().Count() == 2);

        int removed = await writer.Maintenance.DeleteUserAsync("acme", "lena");
        Assert.Equal(40, removed); // 20 id rows + 20 pending events
        Assert.DoesNotContain(await PendingRowListAsync(writer), r => IngestBatchRow.Read(r).Any(e => e.UserId == "lena"));

        await using StorageInstance other = await StorageInstance.StartAsync(prefix, settings: Dead);
        StorageInstance projecting = appliedByTheWriter ? writer : other;
        await projecting.Projector.DrainAsync();
        Assert.Null(await projecting.Summaries.ReadDaySummaryAsync("acme", "lena", new DateOnly(2025, 1, 12)));
        DaySummary? max = await projecting.Summaries.ReadDaySummaryAsync("acme", "max", new DateOnly(2025, 1, 12));
        Assert.Equal(20, max!.Totals.Events);
        Assert.Equal(2m, max.Totals.CostUsd);
        Assert.Equal(0, await PendingRowsAsync(projecting));
    }

    private static async Task AssertDerivedRowsEqualEventsAsync(StorageInstance instance, List<UsageEvent> events)
    {
        DateOnly from = events.Min(e => e.UtcDay);
        DateOnly to = events.Max(e => e.UtcDay);
        foreach (IGrouping<string, UsageEvent> user in events.GroupBy(e => e.UserId))
        {
            DaySummary? day = await instance.Summaries.ReadDaySummaryAsync("acme", user.Key, from);
            Assert.Equal(user.Count(), day!.Totals.Events);
            Assert.Equal(user.Sum(e => e.CostUsd), day.Totals.CostUsd);
        }

        IReadOnlyList<UsageBucket> tenant = await instance.Summaries.ReadBucketsAsync(UsageScope.Tenant("acme"), from, to);
        Assert.Equal(events.Sum(e => e.CostUsd), tenant.Sum(b => b.Totals.CostUsd));
        Assert.Equal(events.Count, tenant.Sum(b => b.Totals.Events));
        await AssertDayRowsEqualEventsAsync(instance, UsageScope.Tenant("acme"), events);
        foreach (IGrouping<string?, UsageEvent> team in events.Where(e => e.TeamId is not null).GroupBy(e => e.TeamId))
        {
            IReadOnlyList<UsageBucket> rows = await instance.Summaries.ReadBucketsAsync(UsageScope.Team("acme", team.Key!), from, to);
            Assert.Equal(team.Sum(e => e.CostUsd), rows.Sum(b => b.Totals.CostUsd));
        }
    }

    /// <summary>The day rows of a scope equal the events summed per (UTC day, team, provider, model), to the last decimal.</summary>
    private static async Task AssertDayRowsEqualEventsAsync(StorageInstance instance, UsageScope scope, IEnumerable<UsageEvent> events)
    {
        List<UsageEvent> mine = events.Where(e => scope.Kind != UsageScopeKind.Team || e.TeamId == scope.Id).ToList();
        DateOnly from = mine.Count == 0 ? new DateOnly(2025, 1, 1) : mine.Min(e => e.UtcDay);
        DateOnly to = mine.Count == 0 ? from : mine.Max(e => e.UtcDay);
        var expected = mine
            .GroupBy(e => (e.UtcDay, e.TeamId, e.Provider, e.Model))
            .ToDictionary(g => g.Key, g => (Events: (long)g.Count(), Cost: g.Sum(e => e.CostUsd), Input: g.Sum(e => e.Usage.InputTokens)));
        IReadOnlyList<UsageBucket> rows = await instance.Summaries.ReadDayBucketsAsync(scope, from, to);
        var actual = rows.ToDictionary(
            b => (DateOnly.FromDateTime(b.HourStart.UtcDateTime), b.TeamId, b.Provider, b.Model),
            b => (b.Totals.Events, Cost: b.Totals.CostUsd, Input: b.Totals.InputTokens));
        Assert.Equal(expected.OrderBy(p => p.Key.ToString()), actual.OrderBy(p => p.Key.ToString()));
        Assert.All(rows, b => Assert.Equal(TimeSpan.Zero, b.HourStart.TimeOfDay));
    }

    [Fact]
    public async Task DayRowsStayTheSumOfTheUserCopiesThroughResendsErasureAndAHandDamagedRow()
    {
        // Two instances race the same events into three users' copies; a team's and the tenant's day rows must equal
        // the events exactly. Then one user's day is erased (their copies leave the day rows in the same
        // transactions), and a day row deleted by hand is rebuilt from the copies by the next write.
        string prefix = StorageInstance.NewPrefix();
        await using StorageInstance one = await StorageInstance.StartAsync(prefix);
        await using StorageInstance two = await StorageInstance.StartAsync(prefix);
        var start = new DateTimeOffset(2025, 4, 1, 22, 0, 0, TimeSpan.Zero);
        List<UsageEvent> events = Enumerable.Range(0, 240)
            .Select(i => Event($"d{i:D3}", $"u{i % 3}", start.AddMinutes(i * 2), 0.0001m * (i % 11 + 1), team: i % 4 == 0 ? null : (i % 2 == 0 ? "red" : "blue")) with
            {
                Model = i % 5 == 0 ? "gpt-4o-mini" : "gpt-4o",
            })
            .ToList();
        await Task.WhenAll(
            Task.Run(async () => { foreach (UsageEvent[] batch in events.Chunk(40)) { await one.Store.RecordAsync(batch); } }),
            Task.Run(async () => { foreach (UsageEvent[] batch in events.AsEnumerable().Reverse().Chunk(30)) { await two.Store.RecordAsync(batch); } }));
        await one.Projector.DrainAsync();
        await two.Projector.DrainAsync();
        await AssertDayRowsEqualEventsAsync(one, UsageScope.Tenant("acme"), events);
        await AssertDayRowsEqualEventsAsync(two, UsageScope.Team("acme", "red"), events);
        await AssertDayRowsEqualEventsAsync(one, UsageScope.Team("acme", "blue"), events);
        // ...read from the day rows themselves (a partition without them would be summed from the copies).
        TableClient scopes = one.Storage.Table(UsageTables.Scopes);
        foreach (string withRows in new[] { UsageScopeProjector.TenantPartition("acme", new DateOnly(2025, 4, 1)), UsageScopeProjector.TeamPartition("acme", "red", new DateOnly(2025, 4, 2)) })
        {
            Assert.True((await scopes.GetEntityIfExistsAsync<TableEntity>(withRows, UsageScopeProjector.HeaderRowKey)).HasValue);
            Assert.True((await scopes.GetEntityIfExistsAsync<TableEntity>(withRows, "|d|red|openai|gpt-4o")).HasValue);
        }

        var erasure = new LlmCost.Storage.Operations.TableRawEventMaintenance(
            two.Storage, two.Events, two.Maintenance, new UsageScopeProjector(two.Storage));
        await erasure.DeleteUserAsync("acme", "u1");
        List<UsageEvent> left = events.Where(e => e.UserId != "u1").ToList();
        await AssertDayRowsEqualEventsAsync(one, UsageScope.Tenant("acme"), left);
        await AssertDayRowsEqualEventsAsync(one, UsageScope.Team("acme", "red"), left);

        string partition = UsageScopeProjector.TenantPartition("acme", new DateOnly(2025, 4, 2));
        // The row the late event's copy (u0, 03:00, red, gpt-4o: already holding events) counts in.
        await scopes.DeleteEntityAsync(partition, "|d|red|openai|gpt-4o");
        UsageEvent late = Event("late", "u0", new DateTimeOffset(2025, 4, 2, 3, 0, 0, TimeSpan.Zero), 0.5m, team: "red");
        await using StorageInstance restarted = await StorageInstance.StartAsync(prefix); // no cached versions
        await restarted.Store.RecordAsync([late]);
        await restarted.Projector.DrainAsync();
        await AssertDayRowsEqualEventsAsync(restarted, UsageScope.Tenant("acme"), [.. left, late]);
    }

    [Fact]
    public async Task ScopeEventsAreExactlyTheScopesEventsInTheRangeAndNoOtherTenants()
    {
        await using StorageInstance instance = await StorageInstance.StartAsync(StorageInstance.NewPrefix());
        var at = new DateTimeOffset(2025, 6, 1, 23, 30, 0, TimeSpan.Zero);
        List<UsageEvent> events = Enumerable.Range(0, 12).Select(i => Event($"s{i:D2}", $"u{i % 3}", at.AddMinutes(20 * i), 0.01m, team: i % 2 == 0 ? "red" : null) with { App = i % 4 == 0 ? "chat" : null }).ToList();
        // Tenants whose ids share a prefix with "acme" sort right next to its partitions.
        List<UsageEvent> others = new[] { "acme-b", "acme}", "acmf", "acme~" }.Select((t, i) => Event($"o{i}", "u0", at.AddMinutes(30), 5m, team: "red") with { TenantId = t }).ToList();
        await instance.Store.RecordAsync(events);
        foreach (UsageEvent other in others)
        {
            await instance.Store.RecordAsync([other]);
        }

        await instance.Projector.DrainAsync();
        DateTimeOffset from = at.AddMinutes(30), to = at.AddMinutes(200);
        async Task<List<string>> Ids(UsageScope scope)
        {
            var ids = new List<string>();
            await foreach (UsageEvent e in instance.Events.ReadScopeEventsAsync(scope, from, to))
            {
                Assert.Equal("acme", e.TenantId);
                ids.Add(e.EventId);
            }

            return [.. ids.Order(StringComparer.Ordinal)];
        }

        List<UsageEvent> inRange = events.Where(e => e.Timestamp >= from && e.Timestamp < to).ToList();
        Assert.Equal(inRange.Select(e => e.EventId).Order(StringComparer.Ordinal), await Ids(UsageScope.Tenant("acme")));
        Assert.Equal(inRange.Where(e => e.TeamId == "red").Select(e => e.EventId).Order(StringComparer.Ordinal), await Ids(UsageScope.Team("acme", "red")));
        Assert.Equal(inRange.Where(e => e.UserId == "u1").Select(e => e.EventId).Order(StringComparer.Ordinal), await Ids(UsageScope.User("acme", "u1")));
        Assert.Contains(inRange, e => e.UtcDay == new DateOnly(2025, 6, 2)); // the range crosses midnight
    }

    [Fact]
    public async Task APartitionWrittenBeforeDayRowsIsReadFromItsCopies()
    {
        // A version without day rows left copies and no header: readers sum the copies, writers keep copies only.
        await using StorageInstance instance = await StorageInstance.StartAsync(StorageInstance.NewPrefix());
        var at = new DateTimeOffset(2025, 5, 6, 8, 0, 0, TimeSpan.Zero);
        List<UsageEvent> first = Enumerable.Range(0, 6).Select(i => Event($"o{i}", $"u{i % 2}", at.AddMinutes(i), 0.25m, team: "red")).ToList();
        await instance.Store.RecordAsync(first);
        await instance.Projector.DrainAsync();
        TableClient scopes = instance.Storage.Table(UsageTables.Scopes);
        await foreach (TableEntity row in scopes.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"RowKey ge {"|"} and RowKey lt {"|}"}")))
        {
            await scopes.DeleteEntityAsync(row.PartitionKey, row.RowKey);
        }

        await using StorageInstance upgraded = await StorageInstance.StartAsync(instance.Storage.Names.Prefix);
        UsageEvent next = Event("o9", "u2", at.AddHours(1), 1m, team: "red");
        await upgraded.Store.RecordAsync([next]);
        await upgraded.Projector.DrainAsync();
        await AssertDayRowsEqualEventsAsync(upgraded, UsageScope.Tenant("acme"), [.. first, next]);
        await AssertDayRowsEqualEventsAsync(upgraded, UsageScope.Team("acme", "red"), [.. first, next]);
        Assert.False(await scopes.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"RowKey ge {"|"} and RowKey lt {"|}"}")).AnyAsync());
    }

    private static async Task<int> PendingRowsAsync(StorageInstance instance) => (await PendingRowListAsync(instance)).Count;

    /// <summary>Every row of the log still to be applied (batch rows and previous-format pending rows).</summary>
    internal static async Task<List<TableEntity>> PendingRowListAsync(StorageInstance instance)
    {
        var rows = new List<TableEntity>();
        await foreach (TableEntity row in instance.Storage.Table(UsageIngestLog.Table).QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"RowKey ge {UsageIngestLog.PendingPrefix} and RowKey lt {UsageIngestLog.PendingPrefixEnd}")))
        {
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>Polls (a loaded machine may take a while) up to 60 s.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 60 s");
            await Task.Delay(100);
        }
    }

    /// <summary>A budget-like observer: idempotent per event id, counts every call.</summary>
    private sealed class CountingObserver : IUsageRecordedObserver
    {
        private readonly Dictionary<string, decimal> _seen = new(StringComparer.Ordinal);
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public decimal Total
        {
            get
            {
                lock (_seen)
                {
                    return _seen.Values.Sum();
                }
            }
        }

        public int Distinct
        {
            get
            {
                lock (_seen)
                {
                    return _seen.Count;
                }
            }
        }

        public Task OnRecordedAsync(IReadOnlyList<UsageEvent> recorded, CancellationToken cancellationToken = default)
        {
            Assert.False(cancellationToken.CanBeCanceled, "observers never run on a request's token");
            lock (_seen)
            {
                foreach (UsageEvent e in recorded)
                {
                    Interlocked.Increment(ref _calls);
                    _seen.TryAdd(e.EventId, e.CostUsd);
                }
            }

            return Task.CompletedTask;
        }
    }
}
