using LlmCost.Core.Recording;
using LlmCost.Storage.Recording;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmCost.Storage.Tests.Recording;

/// <summary>One "app instance" worth of storage services (its own caches) over a shared prefix on Azurite.</summary>
public sealed class StorageInstance : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private StorageInstance(ServiceProvider services) => _services = services;

    public IUsageEventStore Store => _services.GetRequiredService<IUsageEventStore>();
    public IUsageEventReader Events => _services.GetRequiredService<IUsageEventReader>();
    public IUsageSummaryReader Summaries => _services.GetRequiredService<IUsageSummaryReader>();
    public LlmCostStorage Storage => _services.GetRequiredService<LlmCostStorage>();
    public UsageRepair Repair => _services.GetRequiredService<UsageRepair>();
    public UsageProjector Projector => _services.GetRequiredService<UsageProjector>();
    public IUsageIngestMaintenance Maintenance => _services.GetRequiredService<IUsageIngestMaintenance>();

    /// <param name="settings">Extra configuration, e.g. <c>LlmCost:Usage:Ingest:RunProjector = false</c> for an instance that "dies" before projecting.</param>
    public static async Task<StorageInstance> StartAsync(string prefix, Action<IServiceCollection>? configure = null, IDictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = Azurite.ConnectionString,
            ["LlmCost:Storage:Prefix"] = prefix,
        };
        foreach ((string key, string? value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddLlmCostStorage(configuration);
        services.AddRecordingStorage();
        configure?.Invoke(services);
        ServiceProvider provider = services.BuildServiceProvider();
        foreach (IHostedService hosted in provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        return new StorageInstance(provider);
    }

    public static string NewPrefix() => "s" + Guid.NewGuid().ToString("N")[..12];

    public async ValueTask DisposeAsync()
    {
        foreach (IHostedService hosted in _services.GetServices<IHostedService>())
        {
            await hosted.StopAsync(CancellationToken.None);
        }

        await _services.DisposeAsync();
    }
}
