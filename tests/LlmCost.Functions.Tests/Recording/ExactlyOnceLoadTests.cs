using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace LlmCost.Functions.Tests.Recording;

/// <summary>
/// DESIGN invariants 1 and 2 under load: 10,000 events from 50 concurrent clients, every event sent twice (the
/// two copies shuffled into different requests, so they are often in flight at the same time), through a
/// network that refuses, aborts and loses responses after the server committed; every failed request is
/// retried until answered. Afterwards: exactly 10,000 stored events, every day summary equal to the sum of its
/// events, and the tenant/team queries equal to the hand-computed total, to the cent and beyond.
/// </summary>
public sealed class ExactlyOnceLoadTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Events = 10_000;
    private const int Clients = 50;
    private const int BatchSize = 25;
    private const string Tenant = "loadco";
    private static readonly DateTimeOffset Now = new(2025, 3, 15, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private sealed record Sent(string Id, string User, string Team, string Model, DateTimeOffset Timestamp, long Input, long CacheRead, long Output);

    // The oracle: list prices per million tokens written out here, independent of the app's pricing code.
    private static decimal ExpectedCost(Sent e) => e.Model switch
    {
        "gpt-4o" => (((e.Input - e.CacheRead) * 2.50m) + (e.CacheRead * 1.25m) + (e.Output * 10.00m)) / 1_000_000m,
        "gpt-4o-mini" => (((e.Input - e.CacheRead) * 0.15m) + (e.CacheRead * 0.075m) + (e.Output * 0.60m)) / 1_000_000m,
        _ => 0m, // unpriced
    };

    [Fact]
    public async Task TenThousandEventsSentTwiceThroughAFaultyNetworkAreStoredOnceAndSumToTheCent()
    {
        var random = new Random(20250315);
        string[] models = ["gpt-4o", "gpt-4o-mini", "gpt-4o-mini", "in-house-model"];
        List<Sent> events = Enumerable.Range(0, Events).Select(i =>
        {
            long input = random.Next(1, 200_000);
            return new Sent(
                $"ev-{i:D5}",
                $"user{random.Next(20):D2}",
                $"team{random.Next(4)}",
                models[random.Next(models.Length)],
                new DateTimeOffset(2025, 3, 12, 0, 0, 0, TimeSpan.Zero).AddMinutes(random.Next(3 * 24 * 60)),
                input,
                random.Next(0, (int)input + 1),
                random.Next(0, 20_000));
        }).ToList();

        // Every event twice, shuffled, so the two copies usually travel in different requests of different clients.
        List<Sent[]> requests = events.Concat(events).OrderBy(_ => random.Next()).Chunk(BatchSize).ToList();
        var queue = new ConcurrentQueue<Sent[]>(requests);
        var handlers = new List<FaultInjectingHandler>();
        var answers = new ConcurrentBag<(string Id, bool Duplicate)>();
        int retries = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await Task.WhenAll(Enumerable.Range(0, Clients).Select(async c =>
        {
            var handler = new FaultInjectingHandler(seed: c, refuse: 0.05, loseResponse: 0.15, abort: 0.05);
            lock (handlers)
            {
                handlers.Add(handler);
            }

            using HttpClient client = _host.CreateClient(LlmCostTestHost.AdminKey, handler);
            while (queue.TryDequeue(out Sent[]? batch))
            {
                object body = new
                {
                    events = batch.Select(e => new
                    {
                        event_id = e.Id, tenant_id = Tenant, user_id = e.User, team_id = e.Team, provider = "openai", model = e.Model,
                        timestamp = e.Timestamp.ToString("O", CultureInfo.InvariantCulture),
                        usage = new { input_tokens = e.Input, cache_read_tokens = e.CacheRead, output_tokens = e.Output },
                    }).ToArray(),
                };
                for (int attempt = 1; ; attempt++)
                {
                    try
                    {
                        using HttpResponseMessage response = await client.PostAsJsonAsync(new Uri("api/usage", UriKind.Relative), body);
                        if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null && attempt < 30)
                        {
                            // Storage overloaded on a loaded box: the service says so and when to retry, as a client would.
                            Interlocked.Increment(ref retries);
                            await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
                            continue;
                        }

                        Assert.Equal(200, (int)response.StatusCode);
                        using JsonDocument answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                        foreach (JsonElement r in answer.RootElement.GetProperty("results").EnumerateArray())
                        {
                            answers.Add((r.GetProperty("event_id").GetString()!, r.GetProperty("duplicate").GetBoolean()));
                        }

                        break;
                    }
                    catch (Exception ex) when (attempt < 30 && ex is HttpRequestException or TaskCanceledException)
                    {
                        // A timeout (a loaded machine) is one more network failure: the client sends it again.
                        Interlocked.Increment(ref retries); // the client does what any client would: send it again
                    }
                }
            }
        }));
        TimeSpan ingestTime = clock.Elapsed;

        output.WriteLine($"{requests.Count} requests ({2 * Events} event sends) in {ingestTime.TotalSeconds:0.0} s; retries {retries}; " +
            $"refused {handlers.Sum(h => h.Refused)}, aborted {handlers.Sum(h => h.Aborted)}, responses lost after commit {handlers.Sum(h => h.LostResponses)}");
        Assert.True(handlers.Sum(h => h.LostResponses) > 50, "the test must really lose responses after commits");
        Assert.Equal(2 * Events, answers.Count);
        // At most one "recorded" answer per id (a lost answer's retry is a duplicate, so fewer is possible).
        Assert.True(answers.Where(a => !a.Duplicate).GroupBy(a => a.Id).All(g => g.Count() == 1));

        // The log holds every event; the projector applies them off the request. Wait for it (a loaded machine).
        await _host.Services.GetRequiredService<LlmCost.Storage.Recording.UsageProjector>().DrainAsync();
        output.WriteLine($"projection drained {clock.Elapsed.TotalSeconds - ingestTime.TotalSeconds:0.0} s after the last answer");

        // 1. Exactly 10,000 events stored, each id once.
        TableClient table = TestStorage.Table(_host, "usageevents");
        var storedIds = new List<string>();
        var perPartition = new Dictionary<string, (long Events, decimal Cost, long Input, long Output)>();
        await foreach (TableEntity row in table.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"Kind eq 'event' and TenantId eq {Tenant}"),
            select: ["PartitionKey", "RowKey", "CostUsd", "InputTokens", "OutputTokens"]))
        {
            storedIds.Add(row.RowKey);
            perPartition.TryGetValue(row.PartitionKey, out var sum);
            perPartition[row.PartitionKey] = (sum.Events + 1, sum.Cost + decimal.Parse(row.GetString("CostUsd"), CultureInfo.InvariantCulture),
                sum.Input + row.GetInt64("InputTokens")!.Value, sum.Output + row.GetInt64("OutputTokens")!.Value);
        }

        Assert.Equal(Events, storedIds.Count);
        Assert.Equal(events.Select(e => e.Id).Order(StringComparer.Ordinal), storedIds.Order(StringComparer.Ordinal));

        // 2. Every day summary equals the sum of the events in its partition.
        int summaries = 0;
        await foreach (TableEntity day in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"Kind eq 'day' and TenantId eq {Tenant}")))
        {
            summaries++;
            (long n, decimal cost, long input, long outputTokens) = perPartition[day.PartitionKey];
            Assert.Equal(n, day.GetInt64("Events"));
            Assert.Equal(cost, decimal.Parse(day.GetString("CostUsd"), CultureInfo.InvariantCulture));
            Assert.Equal(input, day.GetInt64("InputTokens"));
            Assert.Equal(outputTokens, day.GetInt64("OutputTokens"));
        }

        Assert.Equal(perPartition.Count, summaries);

        // 3. The tenant total (derived rows, read through the API) equals the oracle's sum of what was sent once.
        decimal expected = events.Sum(ExpectedCost);
        (int status, JsonElement tenant) = await _host.Client.GetJsonAsync($"api/tenants/{Tenant}/usage?from=2025-03-12&to=2025-03-15&granularity=day");
        Assert.Equal(200, status);
        Assert.Equal(expected, tenant.GetProperty("total").Money("cost_usd"));
        Assert.Equal(Events, tenant.GetProperty("total").GetProperty("events").GetInt64());
        Assert.Equal(events.Sum(e => e.Input), tenant.GetProperty("total").GetProperty("input_tokens").GetInt64());
        Assert.Equal(events.Count(e => e.Model == "in-house-model"), tenant.GetProperty("total").GetProperty("unpriced_events").GetInt64());

        decimal teams = 0m;
        for (int t = 0; t < 4; t++)
        {
            (_, JsonElement team) = await _host.Client.GetJsonAsync($"api/teams/team{t}/usage?tenant_id={Tenant}&from=2025-03-12&to=2025-03-15");
            teams += team.GetProperty("total").Money("cost_usd");
            Assert.Equal(events.Where(e => e.Team == $"team{t}").Sum(ExpectedCost), team.GetProperty("total").Money("cost_usd"));
        }

        Assert.Equal(expected, teams);
        output.WriteLine($"stored {storedIds.Count} events in {perPartition.Count} partitions; total {expected} USD; total time {clock.Elapsed.TotalSeconds:0.0} s");
    }
}
