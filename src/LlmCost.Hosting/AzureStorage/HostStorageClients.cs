using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Specialized;
using LlmCost.Storage;
using Microsoft.Extensions.Configuration;

namespace LlmCost.Hosting.AzureStorage;

/// <summary>
/// Blob and queue service clients for the account the Functions host itself uses (AzureWebJobsStorage, read by
/// <see cref="StorageAccountConnection"/> as for the app's own clients), with the trigger-queue encoding rules.
/// </summary>
public sealed class HostStorageClients
{
    public const string ConnectionName = StorageAccountConnection.Setting;

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
        var account = StorageAccountConnection.FromConfiguration(configuration);
        return new HostStorageClients(account.CreateBlobService(), account.CreateQueueService(TriggerQueueConventions.CreateClientOptions()));
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
