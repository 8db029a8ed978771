using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime;
using System.Text.Json;
using LlmCost.Core.Budgets;
using LlmCost.Functions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

// Budget authorisation under load, end to end through HTTP: 1 or 3 instances of the real service (the same
// modules and middleware as Program.cs, each with its own DI container, caches and committers, in this process so
// their storage requests and ledger conflicts can be counted), real Table Storage (Azurite on loopback).
//   bench/budget-load.sh [latency|scale|all] [authorisations for scale] [--short-warmup]   (starts and stops its own Azurite)
//   dotnet run -c Release --project bench/LlmCost.BudgetLoad -- "<connection string>" [latency|scale|all] [20000]
// latency: authorisations (gpt-4o, 1,000 input, max_tokens 500) against a tenant-wide $100,000 monthly hard budget;
//   1, 8 and 64 concurrent clients on 1 and 3 instances (reservations left open, as when usage is posted late);
//   then 8 clients where every other call reports its usage (not timed) while the next ones are authorised.
//   Reports p50/p95/p99 of the HTTP call, 412 races per authorisation, and at one client the in-process time
//   (the HTTP call minus the storage requests it made). Baseline in the same run: one storage insert.
// scale: N authorisations from 64 clients on 3 instances against one tenant-wide hard budget, half settled by
//   usage events as they go, half left open; then the exactness checks, then expiry swept on two instances while
//   a fifth of the open ones report late: every reservation must end exactly once.
var connection = args.Length > 0 && args[0].Contains("TableEndpoint", StringComparison.Ordinal) ? args[0]
    : Environment.GetEnvironmentVariable("LLMCOST_TEST_STORAGE")
    ?? throw new InvalidOperationException("pass the Azurite connection string (or set LLMCOST_TEST_STORAGE)");
var shortWarmup = args.Contains("--short-warmup");
var rest = args.Where(a => !a.Contains("TableEndpoint", StringComparison.Ordinal) && !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
var scenario = rest.Length > 0 ? rest[0] : "all";
var scaleCount = rest.Length > 1 ? int.Parse(rest[1], CultureInfo.InvariantCulture) : 20_000;
var tablePort = int.Parse(connection.Split(';').First(p => p.StartsWith("TableEndpoint=", StringComparison.Ordinal)).Split(':')[^1].Split('/')[0], CultureInfo.InvariantCulture);

using var storageTiming = new StorageTiming(tablePort);
using var ledgerCounters = new LedgerCounters();
Console.WriteLine($"budget load: {DateTimeOffset.UtcNow:u}, {Environment.ProcessorCount} cores, load average {LoadAverage()}");

var baseline = await StorageBaselineAsync(connection);
Console.WriteLine($"baseline (one storage insert, 200 in a row): p50 {P(baseline, 50):F2} ms  p95 {P(baseline, 95):F2} ms");

var failed = false;
if (scenario is "latency" or "all")
{
    Console.WriteLine();
    // The storage's own latency at each concurrency, on the same box and Azurite: what an authorisation (one
    // storage transaction at best) is compared with when clients queue for the same two cores.
    var rawAt = new Dictionary<int, List<double>>();
    foreach (var clients in new[] { 1, 8, 64 })
    {
        rawAt[clients] = await StorageConcurrentBaselineAsync(connection, clients, clients == 1 ? 1000 : clients == 8 ? 3000 : 6000);
        Console.WriteLine($"raw single inserts, {clients} concurrent writers: p50 {P(rawAt[clients], 50):F1} ms  p95 {P(rawAt[clients], 95):F1} ms  p99 {P(rawAt[clients], 99):F1} ms");
    }

    Console.WriteLine();
    Console.WriteLine("| instances | clients | usage posted | authorisations | p50 ms | p95 ms | p99 ms | raw insert p95 ms, same concurrency | 412 per authorisation | in-process p50/p95 ms | CPU ms per authorisation | JIT ms in row | load avg |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    foreach (var instances in new[] { 1, 3 })
    {
        await using var cluster = await Cluster.StartAsync(connection, instances);
        await cluster.CreateBudgetAsync("100000", "monthly");
        foreach (var (clients, settle) in new[] { (1, false), (8, false), (64, false), (8, true) })
        {
            var count = clients switch { 1 => 1000, 8 => 3000, _ => 6000 };
            await WarmUpAsync(cluster, clients, settle);
            var jitTime = JitInfo.GetCompilationTime();
            ledgerCounters.Reset();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var result = await RunLatencyAsync(cluster, clients, count, settle);
            // Client and service together (this process; Azurite is another): what each call costs the machine.
            var cpuPerCall = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / count;
            var races = ledgerCounters.Conflicts("authorize") / (double)count;
            var inProcess = clients == 1 ? $"{P(result.InProcess, 50):F2} / {P(result.InProcess, 95):F2}" : "-";
            Console.WriteLine($"| {instances} | {clients} | {(settle ? "every other call" : "no")} | {count} | {P(result.Latency, 50):F1} | {P(result.Latency, 95):F1} | {P(result.Latency, 99):F1} | {P(rawAt[clients], 95):F1} | {races:F3} | {inProcess} | {cpuPerCall:F2} | {(JitInfo.GetCompilationTime() - jitTime).TotalMilliseconds:F0} | {LoadAverage()} |");
            failed |= result.Errors > 0;
            if (result.Errors > 0)
            {
                Console.WriteLine($"  {result.Errors} errors: {string.Join("; ", result.ErrorSamples)}");
            }
        }
    }
}

if (scenario is "scale" or "all")
{
    failed |= !await RunScaleAsync(connection, scaleCount);
}

Console.WriteLine($"load average at the end {LoadAverage()}");
return failed ? 1 : 0;

// Warm-up: definitions, states, lanes, connections, and the runtime's tiered compilation. With only the first 100
// calls, the JIT was still re-compiling thousands of hot methods during the measured rows (seconds of JIT time
// on a 2-core box, most of the CPU per authorisation): that is the process starting, not the service's steady
// state. Rounds of calls run until one compiles fewer than 10 methods (at most 60 s); the row then reports the JIT
// time spent inside it. --short-warmup keeps the first 100 calls only, as earlier runs did.
async Task WarmUpAsync(Cluster cluster, int clients, bool settle)
{
    await RunLatencyAsync(cluster, clients, 100, settle);
    var started = Stopwatch.GetTimestamp();
    while (!shortWarmup && Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(60))
    {
        var compiled = JitInfo.GetCompiledMethodCount();
        await RunLatencyAsync(cluster, clients, Math.Max(500, clients * 20), settle);
        if (JitInfo.GetCompiledMethodCount() - compiled < 10)
        {
            break;
        }
    }
}

async Task<LatencyResult> RunLatencyAsync(Cluster cluster, int clients, int count, bool settle)
{
    var latencies = new ConcurrentBag<double>();
    var inProcess = new ConcurrentBag<double>();
    var errors = new ConcurrentBag<string>();
    var next = -1;
    await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < count)
        {
            var client = cluster.Clients[i % cluster.Clients.Count];
            var user = $"user-{(c * 7919 + i) % 1000}";
            storageTiming.Begin();
            var started = Stopwatch.GetTimestamp();
            using var response = await client.PostAsJsonAsync("api/budgets/authorize", Authorize(user, null));
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var inStorage = storageTiming.End();
            if (!response.IsSuccessStatusCode || body.GetProperty("decision").GetString() != "allow")
            {
                errors.Add($"{(int)response.StatusCode} {body}");
                continue;
            }

            latencies.Add(elapsed);
            if (clients == 1)
            {
                inProcess.Add(elapsed - inStorage);
            }

            if (settle && i % 2 == 0)
            {
                using var recorded = await client.PostAsJsonAsync("api/usage", Usage($"lat-{Guid.NewGuid():N}", user, body.GetProperty("reservation_id").GetString()));
                if (!recorded.IsSuccessStatusCode)
                {
                    errors.Add($"usage {(int)recorded.StatusCode}");
                }
            }
        }
    })));
    return new LatencyResult([.. latencies], [.. inProcess], errors.Count, errors.Take(3).ToList());
}

async Task<bool> RunScaleAsync(string connectionString, int count)
{
    Console.WriteLine();
    Console.WriteLine($"scale: {count} authorisations, 64 clients, 3 instances, one tenant-wide hard budget; half settled as they go");
    await using var cluster = await Cluster.StartAsync(connectionString, 3);
    var budgetId = await cluster.CreateBudgetAsync("1000000", "monthly");
    const int Ttl = 60;
    var reservations = new (string Id, string User, decimal Reserved)[count];
    var settledCost = 0m;
    var errors = new ConcurrentBag<string>();
    var gate = new object();
    ledgerCounters.Reset();
    var started = Stopwatch.GetTimestamp();
    var next = -1;
    await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < count)
        {
            var client = cluster.Clients[i % 3];
            var user = $"user-{i % 500}";
            using var response = await Send(client, "api/budgets/authorize", Authorize(user, Ttl), errors);
            if (response is null)
            {
                continue;
            }

            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (!response.IsSuccessStatusCode || body.GetProperty("decision").GetString() != "allow")
            {
                errors.Add($"authorize {(int)response.StatusCode} {body}");
                continue;
            }

            reservations[i] = (body.GetProperty("reservation_id").GetString()!, user, Money(body, "reserved_usd"));
            if (i % 2 == 0)
            {
                var cost = await RecordAsync(cluster.Clients[(i + 1) % 3], $"scale-{i}", user, reservations[i].Id, errors);
                lock (gate)
                {
                    settledCost += cost;
                }
            }
        }
    })));
    var authorised = Stopwatch.GetElapsedTime(started);
    var open = Enumerable.Range(0, count).Where(i => i % 2 == 1).Select(i => reservations[i]).ToList();
    var status = await cluster.StatusAsync(budgetId);
    var checks = new List<(string Name, bool Ok, string Detail)>
    {
        ("no errors", errors.IsEmpty, $"{errors.Count} errors {string.Join("; ", errors.Take(3))}"),
        ("open reservations", status.GetProperty("active_reservations").GetInt64() == open.Count, $"status {status.GetProperty("active_reservations")} vs {open.Count} open"),
        ("reserved = sum of open, to the last digit", Money(status, "reserved_usd") == open.Sum(o => o.Reserved), $"status {Money(status, "reserved_usd")} vs sum {open.Sum(o => o.Reserved)}"),
        ("spent = sum of settled events", Money(status, "spent_usd") == settledCost, $"status {Money(status, "spent_usd")} vs events {settledCost}"),
    };
    Console.WriteLine($"  {count} authorised + {count / 2} settled in {authorised.TotalSeconds:F1} s ({count / authorised.TotalSeconds:F0} authorisations/s), " +
        $"412 per authorisation {ledgerCounters.Conflicts("authorize") / (double)count:F3}, per settlement {ledgerCounters.Conflicts("main") / (double)(count / 2):F3}, " +
        $"transactions {ledgerCounters.Transactions}, load average {LoadAverage()}");
    foreach (var (name, ok, detail) in checks)
    {
        Console.WriteLine($"  [{(ok ? "ok" : "FAILED")}] {name}: {detail}");
    }

    // Past the chosen lifetime: two instances sweep while a fifth of the open calls report late, at once.
    var wait = TimeSpan.FromSeconds(Ttl + 1) - Stopwatch.GetElapsedTime(started);
    if (wait > TimeSpan.Zero)
    {
        await Task.Delay(wait);
    }

    var late = open.Where((_, j) => j % 5 == 0).ToList();
    var sweepStarted = Stopwatch.GetTimestamp();
    var sweeps = Task.WhenAll(cluster.ExpireAsync(0), cluster.ExpireAsync(2));
    var lateCosts = new decimal[late.Count];
    var nextLate = -1;
    await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
    {
        int j;
        while ((j = Interlocked.Increment(ref nextLate)) < late.Count)
        {
            lateCosts[j] = await RecordAsync(cluster.Clients[j % 3], $"late-{late[j].Id}", late[j].User, late[j].Id, errors);
        }
    })));
    var expired = (await sweeps).Sum() + await cluster.ExpireAsync(1);
    var swept = Stopwatch.GetElapsedTime(sweepStarted);
    var again = await cluster.ExpireAsync(0);
    status = await cluster.StatusAsync(budgetId);
    var lateSettlements = status.GetProperty("late_settlements").GetInt64();
    checks.Add(("every open reservation ended once", expired + (late.Count - lateSettlements) == open.Count, $"{expired} expired + {late.Count - lateSettlements} settled before the sweep vs {open.Count} open"));
    checks.Add(("a second sweep finds nothing", again == 0, $"{again}"));
    checks.Add(("nothing reserved after", Money(status, "reserved_usd") == 0m && status.GetProperty("active_reservations").GetInt64() == 0, $"{status.GetProperty("reserved_usd")} / {status.GetProperty("active_reservations")}"));
    checks.Add(("late events counted once", Money(status, "spent_usd") == settledCost + lateCosts.Sum(), $"status {Money(status, "spent_usd")} vs {settledCost + lateCosts.Sum()}"));
    checks.Add(("no errors after", errors.IsEmpty, $"{errors.Count}: {string.Join("; ", errors.Take(3))}"));
    Console.WriteLine($"  expiry: {expired} expired and {late.Count} late events ({lateSettlements} after their expiry) in {swept.TotalSeconds:F1} s");
    foreach (var (name, ok, detail) in checks.Skip(4))
    {
        Console.WriteLine($"  [{(ok ? "ok" : "FAILED")}] {name}: {detail}");
    }

    return checks.All(c => c.Ok);
}

static async Task<decimal> RecordAsync(HttpClient client, string eventId, string user, string reservation, ConcurrentBag<string> errors)
{
    using var response = await Send(client, "api/usage", Usage(eventId, user, reservation), errors);
    if (response is null)
    {
        return 0m;
    }

    var body = await response.Content.ReadFromJsonAsync<JsonElement>();
    if (!response.IsSuccessStatusCode)
    {
        errors.Add($"usage {(int)response.StatusCode} {body}");
        return 0m;
    }

    return Money(body, "cost_usd");
}

/// <summary>Posts; a transport failure (timeout, reset) is recorded as an error instead of ending the run.</summary>
static async Task<HttpResponseMessage?> Send(HttpClient client, string path, object body, ConcurrentBag<string> errors)
{
    try
    {
        return await client.PostAsJsonAsync(path, body);
    }
    catch (HttpRequestException ex)
    {
        errors.Add($"{path}: {ex.Message}");
    }
    catch (TaskCanceledException ex)
    {
        errors.Add($"{path}: {ex.Message}");
    }

    return null;
}

static object Authorize(string user, int? ttl) => new
{
    tenant_id = "load-tenant", user_id = user, provider = "openai", model = "gpt-4o", input_tokens = 1000, max_tokens = 500, ttl_seconds = ttl,
};

static object Usage(string eventId, string user, string? reservation) => new
{
    event_id = eventId, tenant_id = "load-tenant", user_id = user, provider = "openai", model = "gpt-4o",
    usage = new { input_tokens = 1000, output_tokens = 120 + (eventId.Length * 7 % 300) }, reservation_id = reservation,
};

static decimal Money(JsonElement element, string property) =>
    decimal.Parse(element.GetProperty(property).GetString()!, CultureInfo.InvariantCulture);

static async Task<List<double>> StorageBaselineAsync(string connectionString)
{
    var table = new Azure.Data.Tables.TableClient(connectionString, "loadbaseline" + Guid.NewGuid().ToString("N")[..8]);
    await table.CreateIfNotExistsAsync();
    var samples = new List<double>();
    for (var i = 0; i < 220; i++)
    {
        var started = Stopwatch.GetTimestamp();
        await table.AddEntityAsync(new Azure.Data.Tables.TableEntity("p", i.ToString("D6", CultureInfo.InvariantCulture)) { ["V"] = i });
        if (i >= 20)
        {
            samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    await table.DeleteAsync();
    return samples;
}

static async Task<List<double>> StorageConcurrentBaselineAsync(string connectionString, int writers, int count)
{
    var table = new Azure.Data.Tables.TableClient(connectionString, "loadconc" + Guid.NewGuid().ToString("N")[..8]);
    await table.CreateIfNotExistsAsync();
    var samples = new ConcurrentBag<double>();
    var next = -1;
    var warmup = Math.Min(100, count / 10);
    await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < count + warmup)
        {
            var started = Stopwatch.GetTimestamp();
            // One partition per user, as an authorisation's rows are one partition per tenant: single-entity writes.
            await table.AddEntityAsync(new Azure.Data.Tables.TableEntity($"p{i % 1000}", i.ToString("D7", CultureInfo.InvariantCulture)) { ["V"] = i });
            if (i >= warmup)
            {
                samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
    })));
    await table.DeleteAsync();
    return [.. samples];
}

static double P(IReadOnlyCollection<double> values, int percentile)
{
    if (values.Count == 0)
    {
        return double.NaN;
    }

    var sorted = values.Order().ToList();
    return sorted[Math.Clamp((int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)];
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

internal sealed record LatencyResult(List<double> Latency, List<double> InProcess, int Errors, List<string> ErrorSamples);

/// <summary>N instances of the service (Program.cs's modules and middleware), each on its own loopback port.</summary>
internal sealed class Cluster : IAsyncDisposable
{
    private const string AdminKey = "budget-load-admin-key-0123456789";
    private readonly List<WebApplication> _apps;

    private Cluster(List<WebApplication> apps, List<HttpClient> clients)
    {
        _apps = apps;
        Clients = clients;
    }

    public IReadOnlyList<HttpClient> Clients { get; }

    public static async Task<Cluster> StartAsync(string connection, int instances)
    {
        var prefix = "load" + Guid.NewGuid().ToString("N")[..8];
        var apps = new List<WebApplication>();
        var clients = new List<HttpClient>();
        for (var i = 0; i < instances; i++)
        {
            var builder = WebApplication.CreateBuilder([
                "--PORT=0", $"--AzureWebJobsStorage={connection}", $"--LlmCost:Storage:Prefix={prefix}",
                $"--LLMCOST_ADMIN_KEY={AdminKey}", "--LlmCost:Hosting:RunBackgroundFunctions=false", "--Logging:LogLevel:Default=Warning",
            ]);
            builder.ConfigureLlmCostHost();
            builder.Services.AddRecordingModule(builder.Configuration);
            builder.Services.AddBudgetsModule(builder.Configuration);
            builder.Services.AddOperationsModule(builder.Configuration);
            var app = builder.Build();
            app.UseLlmCostHost();
            app.MapRecordingModule();
            app.MapBudgetsModule();
            app.MapOperationsModule();
            await app.StartAsync();
            apps.Add(app);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
            {
                BaseAddress = new Uri(address.TrimEnd('/') + "/"),
                Timeout = TimeSpan.FromMinutes(20),
            };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
            clients.Add(client);
        }

        return new Cluster(apps, clients);
    }

    public async Task<string> CreateBudgetAsync(string amount, string period)
    {
        using var response = await Clients[0].PostAsJsonAsync("api/budgets", new { tenant_id = "load-tenant", scope = "tenant", scope_id = "load-tenant", amount_usd = amount, period, mode = "hard" });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("budget_id").GetString()!;
    }

    public async Task<JsonElement> StatusAsync(string budgetId)
    {
        using var response = await Clients[0].GetAsync(new Uri($"api/budgets/{budgetId}/status", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<int> ExpireAsync(int instance)
    {
        using var response = await Clients[instance].PostAsJsonAsync("api/budgets/reservations/expire", new { });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("expired").GetInt32();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in Clients)
        {
            client.Dispose();
        }

        foreach (var app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}

/// <summary>
/// Times the storage requests (HttpClient's own activities to the Azurite table port) made while exactly one
/// authorisation is in flight: with one client, all of them are that authorisation's.
/// </summary>
internal sealed class StorageTiming : IDisposable
{
    private readonly ActivityListener _listener;
    private long _ticks;

    public StorageTiming(int tablePort)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("server.port") is int port && port == tablePort)
                {
                    Interlocked.Add(ref _ticks, activity.Duration.Ticks);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Begin() => Interlocked.Exchange(ref _ticks, 0);

    public double End() => TimeSpan.FromTicks(Interlocked.Read(ref _ticks)).TotalMilliseconds;

    public void Dispose() => _listener.Dispose();
}

/// <summary>Counts the ledger's conflicts (by queue) and transactions from the service's "LlmCost" meter.</summary>
internal sealed class LedgerCounters : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _conflicts = new(StringComparer.Ordinal);
    private long _transactions;

    public LedgerCounters()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == BudgetMetrics.MeterName && instrument.Name is "llmcost.budget.conflicts" or "llmcost.budget.transactions")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "llmcost.budget.transactions")
            {
                Interlocked.Add(ref _transactions, value);
                return;
            }

            var queue = "?";
            foreach (var tag in tags)
            {
                if (tag.Key == "queue")
                {
                    queue = tag.Value as string ?? "?";
                }
            }

            _conflicts.AddOrUpdate(queue, value, (_, v) => v + value);
        });
        _listener.Start();
    }

    public long Transactions => Interlocked.Read(ref _transactions);

    public long Conflicts(string queue) => _conflicts.GetValueOrDefault(queue);

    public void Reset()
    {
        _conflicts.Clear();
        Interlocked.Exchange(ref _transactions, 0);
    }

    public void Dispose() => _listener.Dispose();
}
