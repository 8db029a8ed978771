using Azure.Data.Tables;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using BenchmarkDotNet.Engines;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using LlmCost.Storage;
using LlmCost.Storage.Recording;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmCost.Benchmarks;

/// <summary>
/// Ingestion throughput against a real Azurite (LLMCOST_BENCH_STORAGE or LLMCOST_TEST_STORAGE): 2,000 events
/// from 50 concurrent callers, one event per call, from 10 users. Baseline: a bare insert of one entity per event
/// (no summary, no duplicate detection). IngestLog: the recording path up to the acknowledgement (id + pending
/// rows, group-committed per tenant shard). IngestLogAndProjection: the same, then waiting until the projector has
/// applied every event (user-day rows, summaries, team/tenant rows, indexes, pending rows deleted): the sustained cost.
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
    private UsageProjector _projector = null!;
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
        services.AddRecordingStorage();
        services.AddLlmCostTable("plainevents");
        _services = services.BuildServiceProvider();
        foreach (IHostedService hosted in _services.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        _writer = _services.GetRequiredService<IUsageEventStore>();
        _projector = _services.GetRequiredService<UsageProjector>();
        _plain = _services.GetRequiredService<LlmCostStorage>().Table("plainevents");
    }

    [GlobalCleanup]
    public ValueTask CleanupAsync() => _services.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = Events)]
    public Task SingleInserts()
    {
        int run = Interlocked.Increment(ref _run);
        return RunAsync(e => _plain.AddEntityAsync(new TableEntity(StorageKeys.UserDayPartition(e.TenantId, e.UserId, e.Timestamp), e.EventId)
        {
            ["CostUsd"] = "0.001",
            ["InputTokens"] = e.Usage.InputTokens,
        }), run);
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public async Task IngestLog()
    {
        int run = Interlocked.Increment(ref _run);
        await RunAsync(e => _writer.RecordAsync([e]), run);
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public async Task IngestLogAndProjection()
    {
        int run = Interlocked.Increment(ref _run);
        await RunAsync(e => _writer.RecordAsync([e]), run);
        await _projector.DrainAsync();
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
