using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmCost.Client.Sample;

/// <summary>Stands in for a real provider client (OpenAI, Anthropic, ...): canned answers with plausible usage.</summary>
internal sealed class FakeChatClient : IChatClient
{
    private static readonly ChatClientMetadata Metadata = new("openai", null, "gpt-4o-mini");

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        string prompt = string.Concat(messages.Select(m => m.Text));
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "A cap on what LLM calls may cost, checked before each call.."))
        {
            ModelId = options?.ModelId ?? Metadata.DefaultModelId,
            ResponseId = "chatcmpl-" + Guid.NewGuid().ToString("N"),
            Usage = new UsageDetails { InputTokenCount = 20 + prompt.Length / 4, OutputTokenCount = 14 },
        });
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        foreach (string word in "  Streamed calls settle when the stream ends.".Split(' '))
        {
            await Task.Delay(50, cancellationToken);
            yield return new ChatResponseUpdate(ChatRole.Assistant, word + " ") { ResponseId = id, ModelId = options?.ModelId };
        }

        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 25, OutputTokenCount = 9 })])
        {
            ResponseId = id, ModelId = options?.ModelId,
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(ChatClientMetadata) ? Metadata : null;

    public void Dispose()
    {
    }
}
