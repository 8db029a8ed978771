using System.Diagnostics;
using System.Globalization;
using LlmCost.Core.Budgets;
using LlmCost.Core.Estimation;
using LlmCost.Core.Pricing;
using LlmCost.Storage;
using LlmCost.Storage.Budgets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

// Authorisation latency for a warm user budget: one instance, one caller at a time (so every storage request
// can be attributed to the authorisation that made it), real Table Storage on loopback Azurite.
//   dotnet run -c Release --project bench/LlmCost.BudgetLoad -- "<connection string>" [authorisations] [warmup]
// Reports p50/p95/p99 of the end-to-end call, of the time spent inside storage requests, of the difference
// (in-process overhead), and the number of storage requests per authorisation.
var connection = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("LLMCOST_TEST_STORAGE")
    ?? throw new InvalidOperationException("pass the Azurite connection string (or set LLMCOST_TEST_STORAGE)");
var count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2000;
var warmup = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 200;

using var timing = new HttpTiming();
var storage = new LlmCostStorage(
    new ConfigurationBuilder().AddInMemoryCollection([new(LlmCostStorage.ConnectionSetting, connection)]).Build(),
    new StorageNames(Options.Create(new LlmCostStorageOptions { Prefix = "bench" + Guid.NewGuid().ToString("N")[..8] })));
await storage.Table(TableBudgetStore.TableName).CreateIfNotExistsAsync();

var time = TimeProvider.System;
var forecaster = new LinearBudgetForecaster();
var store = new TableBudgetStore(storage, time, forecaster);
var service = new BudgetService(store, store, new EstimatorBudgetCostEstimator(new CostEstimator(PricingEngine.Default, time)),
    new CatalogDowngradeCatalog(PriceCatalog.BuiltIn, time, new Dictionary<string, IReadOnlyList<string>>()),
    new SharedPromptTokenCounter(), forecaster, time, new BudgetOptions { DefinitionCacheTtl = TimeSpan.FromHours(1) });

// A warm user: a user budget, a team budget and a tenant budget apply (three period states in one partition).
foreach (var (scope, id) in new[] { ("user", "bench-user"), ("team", "bench-team"), ("tenant", "bench-tenant") })
{
    var created = await service.CreateAsync(new BudgetDraft
    {
        TenantId = "bench-tenant", Scope = scope, ScopeId = id, AmountUsd = "1000000", Period = "monthly", Mode = "hard",
    }, "bench");
    if (!created.IsValid)
    {
        throw new InvalidOperationException(string.Join("; ", created.Errors.SelectMany(e => e.Value)));
    }
}

var request = new AuthorizeRequest
{
    TenantId = "bench-tenant", UserId = "bench-user", TeamId = "bench-team", Provider = "openai", Model = "gpt-4o-mini",
    InputTokens = 1200, MaxTokens = 800,
};

var total = new List<double>();
var inStorage = new List<double>();
var requests = new List<int>();
for (var i = 0; i < warmup + count; i++)
{
    timing.Reset();
    var started = Stopwatch.GetTimestamp();
    var decision = (await service.AuthorizeAsync(request)).Value!;
    var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    if (decision.Outcome != AuthorizationOutcome.Allow)
    {
        throw new InvalidOperationException($"unexpected {decision.Outcome}: {decision.Reason}");
    }

    (var storageMs, var storageRequests) = timing.Snapshot();

    // Settle right away (not measured) so the period states stay at their steady size, as in real traffic.
    await service.RecordUsageAsync(new BudgetUsage("bench-tenant", "bench-user", "bench-team", null, $"evt-{i}", decision.ReservationId,
        time.GetUtcNow(), 0.0003m, true, 1600));
    if (i >= warmup)
    {
        total.Add(elapsed);
        inStorage.Add(storageMs);
        requests.Add(storageRequests);
    }
}

var overhead = total.Zip(inStorage, (t, s) => t - s).ToList();
Console.WriteLine($"authorisations: {count} (after {warmup} warm-up), budgets per request: 3, one caller, loopback Azurite");
Console.WriteLine($"end-to-end ms     p50 {P(total, 50):F3}  p95 {P(total, 95):F3}  p99 {P(total, 99):F3}  mean {total.Average():F3}");
Console.WriteLine($"in storage ms     p50 {P(inStorage, 50):F3}  p95 {P(inStorage, 95):F3}  p99 {P(inStorage, 99):F3}");
Console.WriteLine($"in-process ms     p50 {P(overhead, 50):F3}  p95 {P(overhead, 95):F3}  p99 {P(overhead, 99):F3}");
Console.WriteLine($"storage requests per authorisation: min {requests.Min()} max {requests.Max()} mean {requests.Average():F2}");

static double P(List<double> values, int percentile)
{
    var sorted = values.Order().ToList();
    return sorted[Math.Clamp((int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)];
}

/// <summary>
/// Times every HTTP request the process makes (all of them are storage requests here) from HttpClient's own
/// "System.Net.Http" activities: the time on the wire and in Azurite, without the SDK's work around it.
/// </summary>
internal sealed class HttpTiming : IDisposable
{
    private readonly ActivityListener _listener;
    private long _ticks;
    private int _requests;

    public HttpTiming()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                Interlocked.Add(ref _ticks, activity.Duration.Ticks);
                Interlocked.Increment(ref _requests);
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Reset()
    {
        Interlocked.Exchange(ref _ticks, 0);
        Interlocked.Exchange(ref _requests, 0);
    }

    public (double Milliseconds, int Requests) Snapshot() =>
        (TimeSpan.FromTicks(Interlocked.Read(ref _ticks)).TotalMilliseconds, Volatile.Read(ref _requests));

    public void Dispose() => _listener.Dispose();
}
