using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using LlmCost.Core.Alerts;
using LlmCost.Functions.Apis.Operations;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Storage;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Operations;

/// <summary>
/// The operations module's alert pipeline wired on REAL Azurite storage (random prefix) without the HTTP host:
/// the same registrations the app uses (AddLlmCostStorage + AddOperationsStorage + the Core services).
/// </summary>
public sealed class OpsTestServices : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    private OpsTestServices(ServiceProvider provider, FakeTimeProvider time)
    {
        _provider = provider;
        Time = time;
    }

    public FakeTimeProvider Time { get; }

    public IServiceProvider Services => _provider;

    public T Get<T>()
        where T : notnull => _provider.GetRequiredService<T>();

    public static async Task<OpsTestServices> StartAsync(DateTimeOffset now, Dictionary<string, string?>? settings = null)
    {
        var prefix = "o" + Guid.NewGuid().ToString("N")[..12];
        var config = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = LlmCostTestHost.StorageConnectionString,
            ["LlmCost:Storage:Prefix"] = prefix,
            ["LlmCost:Alerts:RetryAttempts"] = "1",
            ["LlmCost:Alerts:RetryBaseDelay"] = "00:00:00.050",
            ["LlmCost:Alerts:AllowPrivateNetworkTargets"] = "true",
        };
        foreach (var (k, v) in settings ?? [])
        {
            config[k] = v;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(config).Build();
        var time = new FakeTimeProvider(now);
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddSingleton<TimeProvider>(time);
        services.AddLlmCostStorage(configuration);
        services.AddOperationsStorage();
        services.AddOptions<AlertDeliveryOptions>().BindConfiguration(AlertDeliveryOptions.Section);
        AlertChannelSender.AddAlertHttpClient(services);
        services.AddSingleton<IAlertChannelSender, AlertChannelSender>();
        services.AddSingleton<AlertPublisher>();
        services.AddSingleton<IAlertPublisher>(sp => sp.GetRequiredService<AlertPublisher>());
        services.AddSingleton<AlertFanOut>();
        services.AddSingleton<AlertFanOutFunction>();
        var provider = services.BuildServiceProvider();

        var storage = provider.GetRequiredService<LlmCostStorage>();
        foreach (var resource in provider.GetServices<StorageResource>().Distinct())
        {
            switch (resource.Kind)
            {
                case StorageResourceKind.Table:
                    await storage.Table(resource.LogicalName).CreateIfNotExistsAsync();
                    break;
                case StorageResourceKind.Queue:
                    await storage.Queue(resource.LogicalName).CreateIfNotExistsAsync();
                    break;
                default:
                    await storage.Container(resource.LogicalName).CreateIfNotExistsAsync();
                    break;
            }
        }

        return new OpsTestServices(provider, time);
    }

    /// <summary>Takes the next message off the alert queue, as the host's queue trigger would (text already decoded).</summary>
    public async Task<(string Text, long DequeueCount)?> ReceiveAlertMessageAsync()
    {
        var queue = Get<LlmCostStorage>().Queue(OperationsStorage.AlertQueue);
        var message = (await queue.ReceiveMessageAsync(TimeSpan.FromSeconds(1))).Value;
        if (message is null)
        {
            return null;
        }

        await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
        return (message.Body.ToString(), message.DequeueCount);
    }

    public async ValueTask DisposeAsync()
    {
        var storage = Get<LlmCostStorage>();
        foreach (var resource in _provider.GetServices<StorageResource>().Distinct())
        {
            try
            {
                switch (resource.Kind)
                {
                    case StorageResourceKind.Table:
                        await storage.Table(resource.LogicalName).DeleteAsync();
                        break;
                    case StorageResourceKind.Queue:
                        await storage.Queue(resource.LogicalName).DeleteIfExistsAsync();
                        break;
                    default:
                        await storage.Container(resource.LogicalName).DeleteIfExistsAsync();
                        break;
                }
            }
            catch (Azure.RequestFailedException)
            {
                // Best effort: the prefix is random, leftovers never collide.
            }
        }

        await _provider.DisposeAsync();
    }

    internal static TableServiceClient Tables => new(LlmCostTestHost.StorageConnectionString);

    internal static QueueServiceClient Queues => new(LlmCostTestHost.StorageConnectionString);

    internal static BlobServiceClient Blobs => new(LlmCostTestHost.StorageConnectionString);
}
