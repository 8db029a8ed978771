using System.Reflection;
using Azure.Data.Tables;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using LlmCost.Storage.Recording;

namespace LlmCost.Storage.Tests.Recording;

/// <summary>
/// The ingest log's batch rows: every field of an event survives the binary form, a transaction's events always
/// fit one row under Table Storage's limits (or are split over several transactions), and an event no row can
/// hold is refused before anything is written.
/// </summary>
public sealed class IngestBatchRowTests
{
    private static readonly Dictionary<string, string?> Dead = new() { ["LlmCost:Usage:Ingest:RunProjector"] = "false" };

    private static readonly Dictionary<string, string?> DeadOneShard = new()
    {
        ["LlmCost:Usage:Ingest:RunProjector"] = "false",
        ["LlmCost:Usage:Ingest:Shards"] = "1",
    };

    /// <summary>An event with every property set to a value that differs from its default.</summary>
    private static UsageEvent Full(string id, string user = "ulla") => new()
    {
        EventId = id,
        EventIdGenerated = true,
        TenantId = "acme",
        UserId = user,
        TeamId = "red",
        App = "chat",
        Provider = "openai",
        Model = "gpt-4o-2024-08-06",
        Timestamp = new DateTimeOffset(2025, 2, 3, 4, 5, 6, 789, TimeSpan.Zero).AddTicks(1234),
        Usage = AllUnits(7),
        LatencyMs = 1234,
        Status = UsageStatuses.Error,
        Tags = new Dictionary<string, string> { ["feature"] = "summarise", ["tier"] = "gold" },
        CostUsd = 0.000123456789012345678m,
        Priced = true,
        UnpricedReason = "only for the test",
        ReportedCostUsd = 0.0001m,
        PricedProvider = "openai",
        PricedModel = "gpt-4o",
        PriceSource = "genai-prices",
        ListCostUsd = 0.2m,
        PolicyVersion = 3,
        CatalogVersion = "builtin:genai-prices@0.1.8",
        ReservationId = "rsv-1",
        KeyId = "key-1",
        RecordedAt = new DateTimeOffset(2025, 2, 3, 4, 5, 7, TimeSpan.Zero).AddTicks(5),
    };

    /// <summary>Every unit of the registry with a distinct non-zero count.</summary>
    private static CanonicalUsage AllUnits(long seed)
    {
        var builder = new CanonicalUsage.Builder();
        foreach (UsageUnit unit in UsageUnits.All)
        {
            builder.Set(unit, seed * 1000 + unit.Index + 1);
        }

        return builder.Build();
    }

    [Fact]
    public void EveryFieldOfAnEventSurvivesTheBinaryForm()
    {
        UsageEvent original = Full("e-1");

        // Guard: a property added to UsageEvent later must be set here (and then carried by the codec).
        foreach (PropertyInfo property in typeof(UsageEvent).GetProperties().Where(p => p.CanWrite))
        {
            object? value = property.GetValue(original);
            Assert.False(value is null || value.Equals(DefaultOf(property.PropertyType)), $"set {property.Name} in Full()");
        }

        UsageEvent back = RoundTrip([original])[0];
        foreach (PropertyInfo property in typeof(UsageEvent).GetProperties().Where(p => p.CanWrite && p.Name != nameof(UsageEvent.Tags)))
        {
            Assert.Equal(property.GetValue(original), property.GetValue(back));
        }

        Assert.Equal(original.Tags.OrderBy(t => t.Key), back.Tags.OrderBy(t => t.Key));
        Assert.Equal(original.Usage.ToDictionary(), back.Usage.ToDictionary());
    }

    [Fact]
    public void AbsentOptionalFieldsAndZeroRequestsStayAbsent()
    {
        UsageEvent sparse = Full("e-2") with
        {
            EventIdGenerated = false, TeamId = null, App = null, LatencyMs = null, Tags = new Dictionary<string, string>(),
            Priced = false, CostUsd = 0m, UnpricedReason = null, ReportedCostUsd = null, PricedProvider = null, PricedModel = null,
            PriceSource = null, ReservationId = null, KeyId = null, Usage = new CanonicalUsage { InputTokens = 5, Requests = 0 },
        };

        UsageEvent back = RoundTrip([sparse])[0];
        Assert.Equal(sparse with { Tags = back.Tags }, back);
        Assert.Empty(back.Tags);
        Assert.Equal(0, back.Usage.Requests);
        Assert.Equal(5, back.Usage.InputTokens);
    }

    [Fact]
    public void ARepetitiveBatchIsCompressedAndAnIncompressibleOneIsNot()
    {
        List<UsageEvent> similar = Enumerable.Range(0, 99).Select(i => Full($"similar-{i}")).ToList();
        TableEntity compressed = IngestBatchRow.Build("acme|00", "~p|0|~a", similar.Select(UsageEventCodec.Encode).ToList());
        Assert.Equal("br", compressed.GetString("Compression"));
        Assert.True(compressed.GetBinary("D00").Length * 4 < compressed.GetInt32("RawBytes"), "repetitive events compress well");
        Assert.Equal(similar.Select(e => e.EventId), IngestBatchRow.Read(compressed).Select(e => e.EventId));

        UsageEvent noisy = Full("noisy") with { Tags = RandomTags(new Random(1), 32, 64, 256, cjk: false) };
        TableEntity plain = IngestBatchRow.Build("acme|00", "~p|0|~b", [UsageEventCodec.Encode(noisy)]);
        Assert.Equal(noisy.Tags.OrderBy(t => t.Key), IngestBatchRow.Read(plain)[0].Tags.OrderBy(t => t.Key));
    }

    [Fact]
    public void AnUnreadableRowIsAnErrorNeverAWrongEvent()
    {
        TableEntity row = IngestBatchRow.Build("acme|00", "~p|0|~c", [UsageEventCodec.Encode(Full("x"))]);
        byte[] data = row.GetBinary("D00");
        row["D00"] = data[..^3]; // truncated
        Assert.Throws<InvalidDataException>(() => IngestBatchRow.Read(row));

        TableEntity newer = IngestBatchRow.Build("acme|00", "~p|0|~d", [UsageEventCodec.Encode(Full("y"))]);
        newer["Format"] = 2;
        Assert.Throws<InvalidDataException>(() => IngestBatchRow.Read(newer));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FiftyLargeEventsWithEveryUnitAndManyTagsFitTheLogOrAreSplit(bool cjk)
    {
        // One shard, so all 50 go to one log partition at once: ASCII tags (~10 KB per event) fit one batch row;
        // Japanese tags (3 bytes a character, ~30 KB per event, ~1.5 MB together) need more than one.
        await using StorageInstance instance = await StorageInstance.StartAsync(StorageInstance.NewPrefix(), settings: DeadOneShard);
        var random = new Random(cjk ? 2 : 1);
        var at = new DateTimeOffset(2025, 4, 1, 12, 0, 0, TimeSpan.Zero);
        List<UsageEvent> events = Enumerable.Range(0, 50).Select(i => Full($"big-{i:D2}", $"u{i % 9}") with
        {
            Timestamp = at.AddMinutes(i),
            RecordedAt = at,
            Usage = AllUnits(i + 1),
            Tags = RandomTags(random, 32, 64, 256, cjk),
        }).ToList();

        Assert.All(await instance.Store.RecordAsync(events), o => Assert.False(o.Duplicate));

        List<TableEntity> rows = await UsageIngestTests.PendingRowListAsync(instance);
        Assert.Equal(50, rows.Sum(r => r.GetInt32("Events")));
        if (cjk)
        {
            Assert.True(rows.Count >= 2, $"~1.5 MB of events must be split over several batch rows, got {rows.Count}");
        }

        foreach (TableEntity row in rows)
        {
            Assert.Null(TableLimits.Problem(row));
            Assert.True(TableLimits.EntityBytes(row) <= TableLimits.MaxEntityBytes);
            Assert.True(row.GetInt32("Events") <= 99);
        }

        var back = rows.SelectMany(IngestBatchRow.Read).ToDictionary(e => e.EventId);
        foreach (UsageEvent e in events)
        {
            UsageEvent stored = back[e.EventId];
            Assert.Equal(e.Tags.OrderBy(t => t.Key), stored.Tags.OrderBy(t => t.Key));
            Assert.Equal(e.Usage.ToDictionary(), stored.Usage.ToDictionary());
            Assert.Equal(e.CostUsd, stored.CostUsd);
        }

        // And they project: every event row (tags included) is stored whole.
        await instance.Projector.DrainAsync();
        UsageEventPage page = await instance.Events.ReadUserEventsPageAsync("acme", "u0", at.AddDays(-1), at.AddDays(1), 100, null);
        Assert.Equal(events.Count(e => e.UserId == "u0"), page.Events.Count);
        Assert.All(page.Events, e => Assert.Equal(events.Single(x => x.EventId == e.EventId).Tags.OrderBy(t => t.Key), e.Tags.OrderBy(t => t.Key)));
    }

    [Fact]
    public async Task AnEventNearTheEntityLimitIsRefusedBeforeAnythingIsWritten()
    {
        await using StorageInstance instance = await StorageInstance.StartAsync(StorageInstance.NewPrefix(), settings: Dead);
        var at = new DateTimeOffset(2025, 4, 2, 12, 0, 0, TimeSpan.Zero);
        var random = new Random(3);
        UsageEvent normal = Full("fine-1") with { Timestamp = at, RecordedAt = at };
        // ~1 MiB of tags: more than a log row holds (and far more than an event row's 64 KiB string).
        UsageEvent huge = Full("huge-1") with { Timestamp = at, RecordedAt = at, Tags = RandomTags(random, 1000, 40, 1000, cjk: false) };
        // ~48 KB encoded: fits a log row, but its tags as JSON (control characters escaped) exceed an event row's string.
        UsageEvent wide = Full("wide-1") with
        {
            Timestamp = at, RecordedAt = at,
            Tags = Enumerable.Range(0, 32).ToDictionary(i => $"k{i}", i => new string('\u0001', 1500)),
        };

        UsageEventTooLargeException tooLarge = await Assert.ThrowsAsync<UsageEventTooLargeException>(() => instance.Store.RecordAsync([normal, huge]));
        Assert.Equal(1, tooLarge.Index);
        Assert.Equal("tags", tooLarge.Field);
        UsageEventTooLargeException tooWide = await Assert.ThrowsAsync<UsageEventTooLargeException>(() => instance.Store.RecordAsync([wide]));
        Assert.Equal("tags", tooWide.Field);
        Assert.Contains("32768", tooWide.Reason, StringComparison.Ordinal);

        // Nothing of either call was written: the log is empty, and the normal event is new when sent alone.
        var rows = new List<TableEntity>();
        await foreach (TableEntity row in instance.Storage.Table(UsageIngestLog.Table).QueryAsync<TableEntity>())
        {
            rows.Add(row);
        }

        Assert.Empty(rows);
        Assert.False((await instance.Store.RecordAsync([normal]))[0].Duplicate);
    }

    private static List<UsageEvent> RoundTrip(IReadOnlyList<UsageEvent> events)
    {
        TableEntity row = IngestBatchRow.Build("acme|00", "~p|0000000000000000000|~test", events.Select(UsageEventCodec.Encode).ToList());
        Assert.Null(TableLimits.Problem(row));
        return IngestBatchRow.Read(row);
    }

    private static Dictionary<string, string> RandomTags(Random random, int count, int keyLength, int valueLength, bool cjk)
    {
        string Text(int length) => new(Enumerable.Range(0, length)
            .Select(_ => cjk ? (char)random.Next(0x4E00, 0x9FA0) : (char)random.Next('!', '~' + 1)).ToArray());
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        while (tags.Count < count)
        {
            tags[Text(keyLength)] = Text(valueLength);
        }

        return tags;
    }

    private static object? DefaultOf(Type type) => type.IsValueType && Nullable.GetUnderlyingType(type) is null ? Activator.CreateInstance(type) : null;
}
