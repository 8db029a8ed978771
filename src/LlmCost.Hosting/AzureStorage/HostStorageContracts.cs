namespace LlmCost.Hosting.AzureStorage;

/// <summary>
/// A named, time-limited exclusive lock shared by every instance of the app (a blob lease in Azure and Azurite).
/// Standalone mode takes one per timer occurrence so that only one instance runs it, as the Functions host does
/// with its singleton lock. The lease also carries a small state (the timer's last and next occurrence).
/// </summary>
public interface IFunctionLeaseStore
{
    /// <summary>Takes the lease, or returns null when another instance holds it.</summary>
    Task<IFunctionLease?> TryAcquireAsync(string name, TimeSpan duration, CancellationToken cancellationToken = default);
}

public interface IFunctionLease : IAsyncDisposable
{
    string Name { get; }

    /// <summary>The state stored with the lease when it was taken (empty the first time).</summary>
    IReadOnlyDictionary<string, string> State { get; }

    Task RenewAsync(CancellationToken cancellationToken = default);

    /// <summary>Replaces the stored state; only the holder can write it.</summary>
    Task WriteStateAsync(IReadOnlyDictionary<string, string> state, CancellationToken cancellationToken = default);

    Task ReleaseAsync(CancellationToken cancellationToken = default);
}

/// <summary>A message received from a trigger queue, with what the Functions host would pass as metadata.</summary>
public sealed record TriggerQueueMessage(
    string Id,
    string PopReceipt,
    string Text,
    long DequeueCount,
    DateTimeOffset? InsertedOn,
    DateTimeOffset? ExpiresOn);

/// <summary>
/// A storage queue as a queue trigger sees it. Messages are encoded exactly as host.json's messageEncoding says,
/// so the Functions host and standalone mode read the same messages.
/// </summary>
public interface ITriggerQueue
{
    string Name { get; }

    string PoisonQueueName { get; }

    Task EnsureExistsAsync(CancellationToken cancellationToken = default);

    Task<IReadOnlyList<TriggerQueueMessage>> ReceiveAsync(int maxMessages, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default);

    Task DeleteAsync(TriggerQueueMessage message, CancellationToken cancellationToken = default);

    /// <summary>Makes a failed message visible again after <paramref name="visibilityTimeout"/> (the host's retry delay).</summary>
    Task ReleaseAsync(TriggerQueueMessage message, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default);

    /// <summary>Copies the message to "{queue}-poison" and deletes it from this queue.</summary>
    Task MoveToPoisonAsync(TriggerQueueMessage message, CancellationToken cancellationToken = default);

    Task SendAsync(string text, CancellationToken cancellationToken = default);
}

public interface ITriggerQueueFactory
{
    ITriggerQueue GetQueue(string queueName);
}
