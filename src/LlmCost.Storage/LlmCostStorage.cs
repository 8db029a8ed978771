using Azure.Data.Tables;
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
    public const string ConnectionSetting = StorageAccountConnection.Setting;

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

    /// <summary>The three service clients, from <see cref="StorageAccountConnection"/> with the outage policy's options.</summary>
    public static (TableServiceClient Tables, QueueServiceClient Queues, BlobServiceClient Blobs) CreateClients(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var account = StorageAccountConnection.FromConfiguration(configuration);
        var settings = configuration.GetSection(LlmCostStorageOptions.Section).Get<LlmCostStorageOptions>() ?? new LlmCostStorageOptions();
        (TableClientOptions tableOptions, QueueClientOptions queueOptions, BlobClientOptions blobOptions) = StorageOutage.ClientOptions(settings);
        return (account.CreateTableService(tableOptions), account.CreateQueueService(queueOptions), account.CreateBlobService(blobOptions));
    }
}
