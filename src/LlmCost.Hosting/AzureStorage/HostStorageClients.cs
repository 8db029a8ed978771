using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Specialized;
using Microsoft.Extensions.Configuration;

namespace LlmCost.Hosting.AzureStorage;

/// <summary>
/// Blob and queue service clients for the account the Functions host itself uses (AzureWebJobsStorage), built the
/// way the host builds them: a connection string locally (Azurite, "UseDevelopmentStorage=true"), or in Azure the
/// identity-based form <c>AzureWebJobsStorage__accountName</c> (or <c>__blobServiceUri</c>/<c>__queueServiceUri</c>)
/// with <c>__credential=managedidentity</c> and optionally <c>__clientId</c> for a user-assigned identity.
/// </summary>
public sealed class HostStorageClients
{
    public const string ConnectionName = "AzureWebJobsStorage";

    public HostStorageClients(BlobServiceClient blobService, QueueServiceClient queueService)
    {
        BlobService = blobService;
        QueueService = queueService;
    }

    public BlobServiceClient BlobService { get; }

    /// <summary>Queue clients encode messages as the host does (see <see cref="TriggerQueueConventions"/>).</summary>
    public QueueServiceClient QueueService { get; }

    public static HostStorageClients FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var queueOptions = TriggerQueueConventions.CreateClientOptions();
        var connectionString = configuration[ConnectionName];
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            return new HostStorageClients(new BlobServiceClient(connectionString), new QueueServiceClient(connectionString, queueOptions));
        }

        var section = configuration.GetSection(ConnectionName);
        var accountName = section["accountName"];
        var blobUri = section["blobServiceUri"] ?? (accountName is null ? null : $"https://{accountName}.blob.core.windows.net");
        var queueUri = section["queueServiceUri"] ?? (accountName is null ? null : $"https://{accountName}.queue.core.windows.net");
        if (blobUri is null || queueUri is null)
        {
            throw new InvalidOperationException(
                $"Storage is not configured: set '{ConnectionName}' to a connection string, or '{ConnectionName}__accountName' " +
                $"(or '{ConnectionName}__blobServiceUri' and '{ConnectionName}__queueServiceUri') for managed identity.");
        }

        var credential = CreateCredential(section["credential"], section["clientId"]);
        return new HostStorageClients(
            new BlobServiceClient(new Uri(blobUri), credential),
            new QueueServiceClient(new Uri(queueUri), credential, queueOptions));
    }

    private static TokenCredential CreateCredential(string? kind, string? clientId)
    {
        if (string.Equals(kind, "managedidentity", StringComparison.OrdinalIgnoreCase))
        {
            return string.IsNullOrWhiteSpace(clientId)
                ? new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned)
                : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
        }

        // Developer machines: az login, Visual Studio, environment credentials.
        return new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = clientId });
    }
}

/// <summary>
/// How trigger-queue messages are encoded. The Storage Queues extension 5.x of the Functions host decodes base64 by
/// default; host.json states it explicitly (generated from <see cref="HostJsonMessageEncoding"/>), and every queue
/// client of the app that feeds a queue trigger must encode the same way.
/// </summary>
public static class TriggerQueueConventions
{
    public const string HostJsonMessageEncoding = "base64";

    public const int MaxDequeueCount = 5;

    public const string PoisonSuffix = "-poison";

    /// <summary>
    /// Options for any queue client that feeds or reads a trigger queue. A received message that is not valid
    /// base64 can never be processed, so, like the host, it is moved to "{queue}-poison" as it is.
    /// </summary>
    public static QueueClientOptions CreateClientOptions()
    {
        var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
        options.MessageDecodingFailed += MovePoisonAsync;
        return options;
    }

    private static async Task MovePoisonAsync(QueueMessageDecodingFailedEventArgs args)
    {
        if (args.ReceivedMessage is not { } raw)
        {
            return;
        }

        var poison = args.Queue.GetParentQueueServiceClient().GetQueueClient(args.Queue.Name + PoisonSuffix);
        await poison.CreateIfNotExistsAsync(cancellationToken: args.CancellationToken).ConfigureAwait(false);
        await poison.SendMessageAsync(raw.Body.ToString(), args.CancellationToken).ConfigureAwait(false);
        await args.Queue.DeleteMessageAsync(raw.MessageId, raw.PopReceipt, args.CancellationToken).ConfigureAwait(false);
    }
}
