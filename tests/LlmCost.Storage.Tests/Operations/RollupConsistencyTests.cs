using LlmCost.Tests.Shared;
using LlmCost.Core.Rollups;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Storage.Tests.Operations;

/// <summary>
/// DESIGN invariant 3 on real Azurite: after ANY sequence of on-time events, late events (days late, across a month
/// boundary), rollup runs, reruns and overlapping runs, every hour/day/month rollup row equals the sum of the raw
/// events of its group, and no other row exists. The oracle is a plain LINQ group-by over the raw events, not the
/// rollup code.
/// </summary>
public sealed class RollupConsistencyTests
{
    private static readonly string[] Tenants = ["acme", "glob|ex"];
    private static readonly string[] Users = ["u1", "u2", "u3", "u4"];
    private static readonly string?[] Teams = ["red", "blue", null];
    private static readonly (string Provider, string Model)[] Models = [("openai", "gpt-4o"), ("anthropic", "claude/3.5#x"), ("openai", "gpt-4o-mini")];

    [Theory]
    [InlineData(11)]
    [InlineData(2026)]
    public async Task Rollups_equal_the_raw_events_after_late_events_reruns_and_overlapping_runs(int seed)
    {
        var storage = await OpsStorage.CreateAsync();
        var store = new TableRollupStore(storage);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 29, 20, 0, 0, TimeSpan.Zero));
        var source = new InMemoryUsageFactSource(time);
        var random = new Random(seed);
        var runner = new RollupRunner(source, store, time);
        var runs = 0;

        for (var step = 0; step < 30; step++)
        {
            time.Advance(TimeSpan.FromMinutes(random.Next(5, 240)));
            for (var i = random.Next(0, 12); i > 0; i--)
            {
                // Mostly on time; one in five is late by hours to three days (so it lands in an already rolled-up
                // day, sometimes in the previous month).
                var lag = random.Next(5) == 0 ? TimeSpan.FromMinutes(random.Next(60, 3 * 24 * 60)) : TimeSpan.FromSeconds(random.Next(0, 300));
                var (provider, model) = Models[random.Next(Models.Length)];
                source.Add(new UsageFact
                {
                    EventId = $"e{step}-{i}-{random.Next()}",
                    TenantId = Tenants[random.Next(Tenants.Length)],
                    UserId = Users[random.Next(Users.Length)],
                    TeamId = Teams[random.Next(Teams.Length)],
                    Provider = provider,
                    Model = model,
                    Timestamp = time.GetUtcNow() - lag,
                    CostUsd = random.Next(0, 5_000_000) / 1_000_000m,
                    InputTokens = random.Next(0, 20_000),
                    OutputTokens = random.Next(0, 4_000),
                    Priced = random.Next(10) > 0,
                    Succeeded = random.Next(8) > 0,
                });
            }

            switch (random.Next(4))
            {
                case 0:
                    break;
                case 1:
                    await runner.RunAsync();
                    runs++;
                    break;
                case 2:
                    await runner.RunAsync();
                    await runner.RunAsync(); // a rerun changes nothing
                    runs += 2;
                    break;
                default:
                    // Two overlapping runs (two instances of the timer) on the same rows.
                    await Task.WhenAll(runner.RunAsync(), new RollupRunner(source, store, time).RunAsync());
                    runs += 2;
                    break;
            }
        }

        time.Advance(TimeSpan.FromMinutes(1));
        await runner.RunAsync();
        Assert.True(runs > 10);
        Assert.True(source.Events.Count > 100);

        var from = new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
        var to = new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);
        foreach (var tenant in Tenants)
        {
            foreach (var granularity in new[] { RollupGranularity.Hour, RollupGranularity.Day, RollupGranularity.Month })
            {
                var expected = Oracle(source.Events.Where(e => e.TenantId == tenant), granularity);
                var actual = (await store.ReadAsync(tenant, granularity, from, to))
                    .ToDictionary(r => (r.PeriodStart, r.Dimension, r.Key), r => (r.Requests, r.Errors, r.UnpricedRequests, r.InputTokens, r.OutputTokens, r.CostUsd));
                Assert.Equal(expected.Count, actual.Count);
                foreach (var (key, value) in expected)
                {
                    Assert.True(actual.TryGetValue(key, out var got), $"{tenant} {granularity} {key} missing");
                    Assert.Equal(value, got);
                }
            }
        }

        Assert.Equal(Tenants.Order(), (await store.ListTenantsAsync()).Order());
    }

    /// <summary>Independent oracle: group the raw events by period and dimension value and sum.</summary>
    private static Dictionary<(DateTimeOffset, string, string), (long, long, long, long, long, decimal)> Oracle(IEnumerable<UsageFact> events, RollupGranularity granularity)
    {
        DateTimeOffset Period(DateTimeOffset t)
        {
            var u = t.UtcDateTime;
            return granularity switch
            {
                RollupGranularity.Hour => new DateTimeOffset(u.Year, u.Month, u.Day, u.Hour, 0, 0, TimeSpan.Zero),
                RollupGranularity.Day => new DateTimeOffset(u.Year, u.Month, u.Day, 0, 0, 0, TimeSpan.Zero),
                _ => new DateTimeOffset(u.Year, u.Month, 1, 0, 0, 0, TimeSpan.Zero),
            };
        }

        return events
            .SelectMany(e => new[]
                {
                    ("tenant", e.TenantId), ("team", e.TeamId), ("user", e.UserId), ("provider", e.Provider), ("model", e.Provider + "/" + e.Model),
                }
                .Where(d => d.Item2 is not null)
                .Select(d => (Key: (Period(e.Timestamp), d.Item1, d.Item2!), Event: e)))
            .GroupBy(x => x.Key)
            .ToDictionary(g => g.Key, g => (
                (long)g.Count(),
                (long)g.Count(x => !x.Event.Succeeded),
                (long)g.Count(x => !x.Event.Priced),
                g.Sum(x => x.Event.InputTokens),
                g.Sum(x => x.Event.OutputTokens),
                g.Sum(x => x.Event.CostUsd)));
    }
}
