using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmCost.Client.Tests.Infrastructure;

/// <summary>
/// The inner chat client of the middleware tests: answers with fixed usage (echoing the model it was asked for),
/// streams a few text chunks then a usage update, and can hang until cancelled. Records the options it was called with.
/// </summary>
public sealed class FakeChatClient(string provider = "openai", string defaultModel = "gpt-4o-mini") : IChatClient
{
    private readonly ChatClientMetadata _metadata = new(provider, null, defaultModel);

    public List<ChatOptions?> Calls { get; } = [];

    public UsageDetails Usage { get; set; } = new() { InputTokenCount = 1000, OutputTokenCount = 500, TotalTokenCount = 1500 };

    /// <summary>When set, the response's (and the final stream update's) RawRepresentation.</summary>
    public object? Raw { get; set; }

    /// <summary>False: the stream never reports usage.</summary>
    public bool StreamUsage { get; set; } = true;

    /// <summary>Hang (until cancelled) before answering / after the first stream chunk.</summary>
    public bool Hang { get; set; }

    public int StreamChunks { get; set; } = 3;

    public string LastResponseId { get; private set; } = string.Empty;

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        lock (Calls)
        {
            Calls.Add(options);
        }

        if (Hang)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        LastResponseId = "chatcmpl-" + Guid.NewGuid().ToString("N");
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, "hello"))
        {
            ModelId = options?.ModelId ?? _metadata.DefaultModelId,
            ResponseId = LastResponseId,
            Usage = Usage,
            RawRepresentation = Raw,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        lock (Calls)
        {
            Calls.Add(options);
        }

        string model = options?.ModelId ?? _metadata.DefaultModelId!;
        LastResponseId = "chatcmpl-" + Guid.NewGuid().ToString("N");
        for (int i = 0; i < StreamChunks; i++)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, $"chunk {i} ") { ModelId = model, ResponseId = LastResponseId };
            await Task.Yield();
            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        }

        if (StreamUsage)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage)])
            {
                ModelId = model, ResponseId = LastResponseId, RawRepresentation = Raw,
            };
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(ChatClientMetadata) ? _metadata : null;

    public void Dispose()
    {
    }
}
