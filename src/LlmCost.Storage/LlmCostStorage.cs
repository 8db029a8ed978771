using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;

namespace LlmCost.Storage;

/// <summary>
/// The storage account: service clients built from <c>AzureWebJobsStorage</c> (the Functions convention) and
/// named clients for the registered tables, queues and containers. Inject this, not connection strings.
/// </summary>
public sealed class LlmCostStorage
{
    public const string ConnectionSetting = "AzureWebJobsStorage";

    private readonly Lazy<(TableServiceClient Tables, QueueServiceClient Queues, BlobServiceClient Blobs)> _clients;

    /// <summary>
    /// Clients are built on first use, not at construction: the app can start (and e.g. generate its function.json
    /// files) where storage is not configured, and late configuration sources are honoured.
    /// </summary>
    public LlmCostStorage(IConfiguration configuration, StorageNames names)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        _clients = new(() => CreateClients(configuration));
        Names = names;
    }

    /// <summary>Over clients built elsewhere (tests, tools).</summary>
    public LlmCostStorage(TableServiceClient tables, QueueServiceClient queues, BlobServiceClient blobs, StorageNames names)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(queues);
        ArgumentNullException.ThrowIfNull(blobs);
        _clients = new((tables, queues, blobs));
        Names = names;
    }

    public TableServiceClient Tables => _clients.Value.Tables;
    public QueueServiceClient Queues => _clients.Value.Queues;
    public BlobServiceClient Blobs => _clients.Value.Blobs;
    public StorageNames Names { get; }

    /// <summary>The table for a logical name (prefix applied).</summary>
    public TableClient Table(string logicalName) => Tables.GetTableClient(Names.Table(logicalName));

    /// <summary>The queue for a logical name (prefix applied). Messages are base64 text, as the Functions host expects.</summary>
    public QueueClient Queue(string logicalName) => Queues.GetQueueClient(Names.Queue(logicalName));

    public BlobContainerClient Container(string logicalName) => Blobs.GetBlobContainerClient(Names.Container(logicalName));

    /// <summary>
    /// Builds the three service clients from configuration. Accepted forms, as the Functions host reads them:
    /// <list type="bullet">
    /// <item><c>AzureWebJobsStorage</c> = a connection string, or <c>UseDevelopmentStorage=true</c> (Azurite on 10000-10002);</item>
    /// <item>identity-based: <c>AzureWebJobsStorage__accountName</c>, or explicit <c>__tableServiceUri</c>,
    /// <c>__queueServiceUri</c>, <c>__blobServiceUri</c>; optional <c>__clientId</c> for a user-assigned identity;
    /// authenticated with DefaultAzureCredential.</item>
    /// </list>
    /// </summary>
    public static (TableServiceClient Tables, QueueServiceClient Queues, BlobServiceClient Blobs) CreateClients(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        string? connectionString = configuration[ConnectionSetting];
        var settings = configuration.GetSection(LlmCostStorageOptions.Section).Get<LlmCostStorageOptions>() ?? new LlmCostStorageOptions();
        (TableClientOptions tableOptions, QueueClientOptions queueOptions, BlobClientOptions blobOptions) = StorageOutage.ClientOptions(settings);
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            return (new TableServiceClient(connectionString, tableOptions),
                new QueueServiceClient(connectionString, queueOptions),
                new BlobServiceClient(connectionString, blobOptions));
        }

        IConfigurationSection section = configuration.GetSection(ConnectionSetting);
        string? account = section["accountName"];
        Uri? tableUri = UriOrDefault(section["tableServiceUri"], account, "table");
        Uri? queueUri = UriOrDefault(section["queueServiceUri"], account, "queue");
        Uri? blobUri = UriOrDefault(section["blobServiceUri"], account, "blob");
        if (tableUri is null || queueUri is null || blobUri is null)
        {
            throw new InvalidOperationException(
                $"Storage is not configured: set '{ConnectionSetting}' to a connection string (or UseDevelopmentStorage=true), " +
                $"or '{ConnectionSetting}__accountName' (or __tableServiceUri, __queueServiceUri and __blobServiceUri) for a managed identity.");
        }

        string? clientId = section["clientId"];
        TokenCredential credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions
        {
            ManagedIdentityClientId = string.IsNullOrWhiteSpace(clientId) ? null : clientId,
        });
        return (new TableServiceClient(tableUri, credential, tableOptions),
            new QueueServiceClient(queueUri, credential, queueOptions),
            new BlobServiceClient(blobUri, credential, blobOptions));
    }

    private static Uri? UriOrDefault(string? explicitUri, string? account, string service)
    {
        if (!string.IsNullOrWhiteSpace(explicitUri))
        {
            return new Uri(explicitUri);
        }

        return string.IsNullOrWhiteSpace(account) ? null : new Uri($"https://{account}.{service}.core.windows.net");
    }
}
