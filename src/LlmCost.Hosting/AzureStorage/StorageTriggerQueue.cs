using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace LlmCost.Hosting.AzureStorage;

/// <summary>Trigger queues on Azure Storage (or Azurite), encoded as host.json says, with "{queue}-poison" beside them.</summary>
public sealed class StorageTriggerQueueFactory(HostStorageClients clients) : ITriggerQueueFactory
{
    public ITriggerQueue GetQueue(string queueName) => new StorageTriggerQueue(clients.QueueService, queueName);
}

public sealed class StorageTriggerQueue : ITriggerQueue
{
    private readonly QueueClient _queue;
    private readonly QueueClient _poison;

    public StorageTriggerQueue(QueueServiceClient service, string queueName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queueName);
        Name = queueName;
        PoisonQueueName = queueName + TriggerQueueConventions.PoisonSuffix;
        // The service's options carry the host's encoding and its decoding-failure rule (see TriggerQueueConventions).
        _queue = service.GetQueueClient(queueName);
        _poison = service.GetQueueClient(PoisonQueueName);
    }

    public string Name { get; }

    public string PoisonQueueName { get; }

    public async Task EnsureExistsAsync(CancellationToken cancellationToken = default)
    {
        await _queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await _poison.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<TriggerQueueMessage>> ReceiveAsync(int maxMessages, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default)
    {
        QueueMessage[] messages = await _queue.ReceiveMessagesAsync(Math.Clamp(maxMessages, 1, 32), visibilityTimeout, cancellationToken).ConfigureAwait(false);
        return messages
            .Select(m => new TriggerQueueMessage(m.MessageId, m.PopReceipt, m.Body?.ToString() ?? string.Empty, m.DequeueCount, m.InsertedOn, m.ExpiresOn))
            .ToList();
    }

    public async Task DeleteAsync(TriggerQueueMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            await _queue.DeleteMessageAsync(message.Id, message.PopReceipt, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Already gone (deleted by another attempt whose visibility ran out): nothing left to do.
        }
    }

    public async Task ReleaseAsync(TriggerQueueMessage message, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            await _queue.UpdateMessageAsync(message.Id, message.PopReceipt, visibilityTimeout: visibilityTimeout, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // The pop receipt is stale: the message is already visible again for someone else.
        }
    }

    public async Task MoveToPoisonAsync(TriggerQueueMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        await _poison.SendMessageAsync(message.Text, cancellationToken).ConfigureAwait(false);
        await DeleteAsync(message, cancellationToken).ConfigureAwait(false);
    }

    public async Task SendAsync(string text, CancellationToken cancellationToken = default)
    {
        await _queue.SendMessageAsync(text, cancellationToken).ConfigureAwait(false);
    }
}
