using Azure.Data.Tables;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using BenchmarkDotNet.Engines;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using LlmCost.Storage;
using LlmCost.Storage.Usage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmCost.Benchmarks;

/// <summary>
/// Ingestion throughput against a real Azurite (LLMCOST_BENCH_STORAGE or LLMCOST_TEST_STORAGE): 2,000 events
/// from 50 concurrent callers, one event per call, into 10 user-day partitions (events of the current hour, as
/// live traffic is). Baseline: the same writer with one event per transaction (event + day summary + hour
/// bucket + team/tenant copy each time). GroupCommit: concurrent events of a partition coalesced into one
/// transaction. SingleInserts: a bare insert of the event row alone (no summary at all), for reference.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(IngestionConfig))]
public class IngestionBenchmarks
{
    private const int Events = 2_000;
    private const int Callers = 50;
    private const int Partitions = 10;
    private ServiceProvider _services = null!;
    private IUsageEventStore _writer = null!;
    private IUsageEventStore _unbatched = null!;
    private TableClient _plain = null!;
    private int _run;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        string connection = Environment.GetEnvironmentVariable("LLMCOST_BENCH_STORAGE") is { Length: > 0 } b ? b
            : Environment.GetEnvironmentVariable("LLMCOST_TEST_STORAGE") is { Length: > 0 } t ? t
            : throw new InvalidOperationException("set LLMCOST_BENCH_STORAGE (or LLMCOST_TEST_STORAGE) to an Azurite connection string");
        string prefix = "b" + Guid.NewGuid().ToString("N")[..12];
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = connection,
            ["LlmCost:Storage:Prefix"] = prefix,
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddLlmCostStorage(configuration);
        services.AddUsageStorage();
        services.AddLlmCostTable("plainevents");
        _services = services.BuildServiceProvider();
        foreach (IHostedService hosted in _services.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        _writer = _services.GetRequiredService<IUsageEventStore>();
        _unbatched = ActivatorUtilities.CreateInstance<UsageEventWriter>(_services, new UsageWriterOptions { MaxEventsPerTransaction = 1 });
        _plain = _services.GetRequiredService<LlmCostStorage>().Table("plainevents");
    }

    [GlobalCleanup]
    public ValueTask CleanupAsync() => _services.DisposeAsync();

    [Benchmark(OperationsPerInvoke = Events)]
    public Task SingleInserts()
    {
        int run = Interlocked.Increment(ref _run);
        return RunAsync(e => _plain.AddEntityAsync(new TableEntity(StorageKeys.UserDayPartition(e.TenantId, e.UserId, e.Timestamp), e.EventId)
        {
            ["CostUsd"] = "0.001",
            ["InputTokens"] = e.Usage.InputTokens,
        }), run);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Events)]
    public Task OneEventPerTransaction()
    {
        int run = Interlocked.Increment(ref _run);
        return RunAsync(e => _unbatched.RecordAsync([e]), run);
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public Task GroupCommit()
    {
        int run = Interlocked.Increment(ref _run);
        return RunAsync(e => _writer.RecordAsync([e]), run);
    }

    private static async Task RunAsync(Func<UsageEvent, Task> send, int run)
    {
        int next = -1;
        var start = new DateTimeOffset(2025, 3, 10, 0, 0, 0, TimeSpan.Zero);
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Events)
            {
                await send(new UsageEvent
                {
                    EventId = $"r{run}-{i}",
                    TenantId = "bench",
                    UserId = $"u{i % Partitions}",
                    Provider = "openai",
                    Model = "gpt-4o",
                    Timestamp = start.AddSeconds(i % 3600),
                    Usage = new CanonicalUsage { InputTokens = 1000, OutputTokens = 100 },
                    CostUsd = 0.0035m,
                    Priced = true,
                    RecordedAt = start,
                });
            }
        }));
    }
}

/// <summary>
/// In-process (the benchmark talks to Azurite over loopback; no separate build needed), one invocation of 2,000
/// events per iteration, 1 warm-up + 5 measured iterations.
/// </summary>
internal sealed class IngestionConfig : ManualConfig
{
    public IngestionConfig() => AddJob(Job.Default
        .WithToolchain(new InProcessEmitToolchain(TimeSpan.FromMinutes(20), logOutput: false))
        .WithStrategy(RunStrategy.Monitoring)
        .WithLaunchCount(1)
        .WithWarmupCount(1)
        .WithIterationCount(5)
        .WithInvocationCount(1)
        .WithUnrollFactor(1));
}
