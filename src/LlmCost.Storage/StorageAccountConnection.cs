using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;

namespace LlmCost.Storage;

/// <summary>
/// The one reading of <c>AzureWebJobsStorage</c>, in the forms the Functions host accepts, and the one place service
/// clients are built from it (the app's adapters and the hosting runtime's trigger queues and leases differ only in
/// their client options):
/// <list type="bullet">
/// <item>a connection string, or <c>UseDevelopmentStorage=true</c> (Azurite on 10000-10002);</item>
/// <item>identity-based: <c>AzureWebJobsStorage__accountName</c>, or explicit <c>__tableServiceUri</c>,
/// <c>__queueServiceUri</c>, <c>__blobServiceUri</c> (each wins over the account name for its service). With
/// <c>__credential=managedidentity</c> (what infra-bicep sets) the managed identity, user-assigned when
/// <c>__clientId</c> is set; otherwise DefaultAzureCredential (developer machines: az login, Visual Studio,
/// environment), preferring <c>__clientId</c> for a managed identity.</item>
/// </list>
/// </summary>
public sealed class StorageAccountConnection
{
    public const string Setting = "AzureWebJobsStorage";

    private readonly string? _connectionString;
    private readonly IConfigurationSection _section;
    private readonly Lazy<TokenCredential> _credential;

    private StorageAccountConnection(string? connectionString, IConfigurationSection section)
    {
        _connectionString = connectionString;
        _section = section;
        _credential = new(() => CreateCredential(section["credential"], section["clientId"]));
    }

    /// <summary>Reads the setting; fails (naming both forms) when neither a connection string nor an identity-based form is set.</summary>
    public static StorageAccountConnection FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        string? connectionString = configuration[Setting];
        IConfigurationSection section = configuration.GetSection(Setting);
        if (string.IsNullOrWhiteSpace(connectionString) && !section.GetChildren().Any(c => c.Key.EndsWith("Uri", StringComparison.Ordinal) || c.Key == "accountName"))
        {
            throw NotConfigured();
        }

        return new StorageAccountConnection(string.IsNullOrWhiteSpace(connectionString) ? null : connectionString, section);
    }

    public TableServiceClient CreateTableService(TableClientOptions? options = null) =>
        _connectionString is { } cs
            ? new TableServiceClient(cs, options)
            : new TableServiceClient(ServiceUri("table"), _credential.Value, options);

    public QueueServiceClient CreateQueueService(QueueClientOptions? options = null) =>
        _connectionString is { } cs
            ? new QueueServiceClient(cs, options)
            : new QueueServiceClient(ServiceUri("queue"), _credential.Value, options);

    public BlobServiceClient CreateBlobService(BlobClientOptions? options = null) =>
        _connectionString is { } cs
            ? new BlobServiceClient(cs, options)
            : new BlobServiceClient(ServiceUri("blob"), _credential.Value, options);

    private Uri ServiceUri(string service)
    {
        if (_section[service + "ServiceUri"] is { Length: > 0 } explicitUri)
        {
            return new Uri(explicitUri);
        }

        return _section["accountName"] is { Length: > 0 } account
            ? new Uri($"https://{account}.{service}.core.windows.net")
            : throw NotConfigured();
    }

    private static InvalidOperationException NotConfigured() => new(
        $"Storage is not configured: set '{Setting}' to a connection string (or UseDevelopmentStorage=true), " +
        $"or '{Setting}__accountName' (or __tableServiceUri, __queueServiceUri and __blobServiceUri) for a managed identity.");

    private static TokenCredential CreateCredential(string? kind, string? clientId)
    {
        clientId = string.IsNullOrWhiteSpace(clientId) ? null : clientId;
        if (string.Equals(kind, "managedidentity", StringComparison.OrdinalIgnoreCase))
        {
            return clientId is null
                ? new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned)
                : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
        }

        return new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = clientId });
    }
}
