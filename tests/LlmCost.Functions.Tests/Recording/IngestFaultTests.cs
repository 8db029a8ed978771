using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using LlmCost.Functions.Tests.Budgets;
using LlmCost.Functions.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmCost.Functions.Tests.Recording;

/// <summary>
/// DESIGN invariant 8 under faults, with the built service as separate OS processes on one Azurite:
/// <list type="number">
/// <item>clients that give up while their event is being committed (timeouts of 5-80 ms) and then retry;</item>
/// <item>an instance killed with SIGKILL in the middle of a load (its acknowledged events still pending), its clients
/// retrying on the surviving instance, and then a fresh instance started on the same storage.</item>
/// </list>
/// Afterwards, within the stated repair time, every user-day summary, team and tenant total and the tenant budget's
/// spend equal the events that were acknowledged, each counted once.
/// </summary>
public sealed class IngestFaultTests(ITestOutputHelper output)
{
    private const string Tenant = "faultco";

    /// <summary>The README's stated repair time after an instance dies is SweepAge + SweepInterval (10 s) plus a cycle; a loaded test machine gets far more.</summary>
    private static readonly TimeSpan RepairBound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task AbortedClientsAndAKilledInstanceLeaveEveryTotalAndBudgetEqualToTheRecordedEvents()
    {
        string prefix = "t" + Guid.NewGuid().ToString("N")[..12];
        var settings = new Dictionary<string, string>();
        ServiceProcess a = await ServiceProcess.StartAsync(prefix, settings);
        ServiceProcess b = await ServiceProcess.StartAsync(prefix, settings);
        ServiceProcess? restarted = null;
        bool killedOnce = false;
        try
        {
            (int created, JsonElement budget) = await b.Client.PostAsync("api/budgets", new
            {
                tenant_id = Tenant, scope = "tenant", amount_usd = "1000", period = "monthly", mode = "hard",
            });
            Assert.Equal(201, created);
            string budgetId = budget.GetProperty("budget_id").GetString()!;

            var answers = new ConcurrentDictionary<string, ConcurrentBag<decimal>>(StringComparer.Ordinal);
            var random = new Random(2026_11_30);
            DateTimeOffset now = DateTimeOffset.UtcNow;
            List<Sent> events = Enumerable.Range(0, 500).Select(i => new Sent(
                $"f-{i:D4}", $"user{random.Next(12):D2}", $"team{random.Next(3)}", i % 4 == 0 ? "gpt-4o" : "gpt-4o-mini",
                now.AddSeconds(-random.Next(3600)), random.Next(100, 50_000), random.Next(0, 4_000))).ToList();

            // 1. 150 events from clients that time out after 5-80 ms (mid-commit, often after it), then retry patiently.
            int aborted = 0;
            await Parallel.ForEachAsync(events.Take(150), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (e, _) =>
            {
                ServiceProcess target = e.Id.GetHashCode() % 2 == 0 ? a : b;
                using var impatient = new HttpClient { BaseAddress = target.Client.BaseAddress, Timeout = TimeSpan.FromMilliseconds(5 + Random.Shared.Next(76)) };
                impatient.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LlmCostTestHost.AdminKey);
                try
                {
                    using HttpResponseMessage response = await impatient.PostAsJsonAsync(new Uri("api/usage", UriKind.Relative), Body([e]));
                    await Record(response, answers);
                }
                catch (Exception ex) when (ex is TaskCanceledException or HttpRequestException)
                {
                    Interlocked.Increment(ref aborted);
                }

                await SendUntilAnsweredAsync([target, target == a ? b : a], [e], answers);
            });
            output.WriteLine($"phase 1: {aborted} of 150 clients gave up mid-request and retried");
            Assert.True(aborted > 0, "some clients must really give up while their event is being committed");

            // 2. The rest in batches of 10 from 12 workers against A; A is killed (SIGKILL) once 100 more events are
            //    acknowledged. Workers whose request died retry on B, as a load balancer would send them.
            var queue = new ConcurrentQueue<Sent[]>(events.Skip(150).Chunk(10));
            int acknowledged = 0;
            var killed = new TaskCompletionSource();
            Task killer = Task.Run(async () =>
            {
                while (Volatile.Read(ref acknowledged) < 100)
                {
                    await Task.Delay(5);
                }

                killed.TrySetResult();
                await a.DisposeAsync(); // Process.Kill: SIGKILL, no shutdown hooks
            });
            await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(async () =>
            {
                while (queue.TryDequeue(out Sent[]? chunk))
                {
                    ServiceProcess target = killed.Task.IsCompleted ? b : a;
                    try
                    {
                        using HttpResponseMessage response = await target.Client.PostAsJsonAsync(new Uri("api/usage", UriKind.Relative), Body(chunk));
                        await Record(response, answers);
                        Interlocked.Add(ref acknowledged, chunk.Length);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or ObjectDisposedException)
                    {
                        await SendUntilAnsweredAsync([b], chunk, answers);
                    }
                }
            })));
            await killer;
            killedOnce = true;
            var clock = Stopwatch.StartNew();
            restarted = await ServiceProcess.StartAsync(prefix, settings); // "A" comes back; B keeps sweeping too

            Assert.Equal(events.Count, answers.Count);
            Dictionary<string, decimal> cost = answers.ToDictionary(kv => kv.Key, kv => Assert.Single(kv.Value.Distinct()));
            decimal expected = cost.Values.Sum();

            // Wait (bounded) until nothing is pending, and the totals have converged.
            TableClient log = new TableServiceClient(LlmCostTestHost.StorageConnectionString).GetTableClient(prefix + "usageingest");
            while (await PendingAsync(log) > 0)
            {
                Assert.True(clock.Elapsed < RepairBound, $"events still pending {clock.Elapsed.TotalSeconds:0} s after the kill");
                await Task.Delay(250);
            }

            output.WriteLine($"every pending event applied {clock.Elapsed.TotalSeconds:0.0} s after the kill");

            // Every stored event once, every day summary equal to its events.
            TableClient table = new TableServiceClient(LlmCostTestHost.StorageConnectionString).GetTableClient(prefix + "usageevents");
            var perPartition = new Dictionary<string, (long N, decimal Cost)>();
            var stored = new List<string>();
            await foreach (TableEntity row in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"Kind eq 'event'"), select: ["PartitionKey", "RowKey", "CostUsd"]))
            {
                stored.Add(row.RowKey);
                decimal c = decimal.Parse(row.GetString("CostUsd"), CultureInfo.InvariantCulture);
                Assert.Equal(cost[row.RowKey], c);
                perPartition.TryGetValue(row.PartitionKey, out var s);
                perPartition[row.PartitionKey] = (s.N + 1, s.Cost + c);
            }

            Assert.Equal(events.Select(e => e.Id).Order(StringComparer.Ordinal), stored.Order(StringComparer.Ordinal));
            await foreach (TableEntity day in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"Kind eq 'day'")))
            {
                Assert.Equal(perPartition[day.PartitionKey].N, day.GetInt64("Events"));
                Assert.Equal(perPartition[day.PartitionKey].Cost, decimal.Parse(day.GetString("CostUsd"), CultureInfo.InvariantCulture));
            }

            // Team and tenant totals (derived rows) and the budget's spend, read from the restarted instance.
            string from = now.AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            string to = now.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            (int status, JsonElement tenant) = await restarted.Client.GetJsonAsync($"api/tenants/{Tenant}/usage?from={from}&to={to}");
            Assert.Equal(200, status);
            Assert.Equal(expected, tenant.GetProperty("total").Money("cost_usd"));
            Assert.Equal(events.Count, tenant.GetProperty("total").GetProperty("events").GetInt64());
            foreach (IGrouping<string, Sent> team in events.GroupBy(e => e.Team))
            {
                (_, JsonElement t) = await restarted.Client.GetJsonAsync($"api/teams/{team.Key}/usage?tenant_id={Tenant}&from={from}&to={to}");
                Assert.Equal(team.Sum(e => cost[e.Id]), t.GetProperty("total").Money("cost_usd"));
            }

            (_, JsonElement spend) = await restarted.Client.GetJsonAsync($"api/budgets/{budgetId}/status");
            Assert.Equal(expected, spend.Money("spent_usd"));
            Assert.Equal(events.Count, spend.GetProperty("event_count").GetInt64());
            output.WriteLine($"{events.Count} events, {expected} USD: summaries, team/tenant totals and budget spend agree");
        }
        finally
        {
            if (!killedOnce)
            {
                await a.DisposeAsync();
            }

            await b.DisposeAsync();
            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }
        }
    }

    private sealed record Sent(string Id, string User, string Team, string Model, DateTimeOffset Timestamp, long Input, long Output);

    private static object Body(IEnumerable<Sent> events) => new
    {
        events = events.Select(e => new
        {
            event_id = e.Id, tenant_id = Tenant, user_id = e.User, team_id = e.Team, provider = "openai", model = e.Model,
            timestamp = e.Timestamp.ToString("O", CultureInfo.InvariantCulture),
            usage = new { input_tokens = e.Input, output_tokens = e.Output },
        }).ToArray(),
    };

    private static async Task Record(HttpResponseMessage response, ConcurrentDictionary<string, ConcurrentBag<decimal>> answers)
    {
        Assert.Equal(200, (int)response.StatusCode);
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        foreach (JsonElement r in body.RootElement.GetProperty("results").EnumerateArray())
        {
            answers.GetOrAdd(r.GetProperty("event_id").GetString()!, _ => []).Add(r.Money("cost_usd"));
        }
    }

    /// <summary>What any client does after a failure: send the same events again (here: until answered).</summary>
    private static async Task SendUntilAnsweredAsync(ServiceProcess[] targets, Sent[] events, ConcurrentDictionary<string, ConcurrentBag<decimal>> answers)
    {
        for (int attempt = 0; ; attempt++)
        {
            ServiceProcess target = targets[attempt % targets.Length];
            try
            {
                using HttpResponseMessage response = await target.Client.PostAsJsonAsync(new Uri("api/usage", UriKind.Relative), Body(events));
                await Record(response, answers);
                return;
            }
            catch (Exception ex) when (attempt < 20 && ex is HttpRequestException or TaskCanceledException or ObjectDisposedException)
            {
                await Task.Delay(100);
            }
        }
    }

    private static async Task<int> PendingAsync(TableClient log)
    {
        int n = 0;
        // Rows still to be applied: batch rows (and rows of the previous one-event format) share this key range.
        await foreach (TableEntity _ in log.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"RowKey ge '~p|' and RowKey lt '~p}}'"), select: ["RowKey"]))
        {
            n++;
        }

        return n;
    }
}
