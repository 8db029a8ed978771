using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmCost.Client.Tests;

/// <summary>How the middleware reads what chat clients report (no service needed).</summary>
public sealed class ChatUsageMapperTests
{
    [Fact]
    public void Inclusive_abstraction_counts_map_one_to_one()
    {
        Dictionary<string, long>? usage = ChatUsageMapper.Canonical(new UsageDetails
        {
            InputTokenCount = 1200, CachedInputTokenCount = 200, OutputTokenCount = 300, ReasoningTokenCount = 100,
            AdditionalCounts = new AdditionalPropertiesDictionary<long> { ["cache_write_tokens"] = 50, ["Something.Else"] = 7 },
        });

        Assert.Equal(new Dictionary<string, long>
        {
            [UsageKeys.InputTokens] = 1200, [UsageKeys.CacheReadTokens] = 200, [UsageKeys.CacheWriteTokens] = 50,
            [UsageKeys.OutputTokens] = 300, [UsageKeys.ReasoningTokens] = 100,
        }, usage);
    }

    [Fact]
    public void Parts_reported_outside_their_total_are_folded_in_instead_of_sending_an_impossible_event()
    {
        // An adapter passing Anthropic's exclusive input through: 100 uncached, 900 read from cache.
        Dictionary<string, long>? usage = ChatUsageMapper.Canonical(new UsageDetails
        {
            InputTokenCount = 100, CachedInputTokenCount = 900, OutputTokenCount = 10, ReasoningTokenCount = 40,
        });

        Assert.Equal(1000, usage![UsageKeys.InputTokens]);
        Assert.Equal(50, usage[UsageKeys.OutputTokens]);
    }

    [Fact]
    public void OpenAI_adapter_detail_names_fill_what_the_typed_counts_left_empty()
    {
        Dictionary<string, long>? usage = ChatUsageMapper.Canonical(new UsageDetails
        {
            InputTokenCount = 500, OutputTokenCount = 200,
            AdditionalCounts = new AdditionalPropertiesDictionary<long>
            {
                ["InputTokenDetails.CachedTokenCount"] = 100, ["OutputTokenDetails.ReasoningTokenCount"] = 64,
            },
        });

        Assert.Equal(100, usage![UsageKeys.CacheReadTokens]);
        Assert.Equal(64, usage[UsageKeys.ReasoningTokens]);
        Assert.Null(ChatUsageMapper.Canonical(new UsageDetails { TotalTokenCount = 10 })); // nothing priceable
    }

    [Fact]
    public void Raw_usage_is_only_the_usage_object_never_the_response_text()
    {
        JsonElement body = JsonDocument.Parse("""
            {"id":"msg_1","type":"message","content":[{"type":"text","text":"secret answer"}],
             "usage":{"input_tokens":10,"cache_read_input_tokens":90,"output_tokens":5}}
            """).RootElement;

        JsonElement usage = ChatUsageMapper.RawUsage(body, null)!.Value;

        Assert.Equal(90, usage.GetProperty("cache_read_input_tokens").GetInt32());
        Assert.DoesNotContain("secret", usage.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public void OpenAI_SDK_models_are_written_through_System_ClientModel()
    {
        OpenAI.Chat.ChatCompletion completion = OpenAI.Chat.OpenAIChatModelFactory.ChatCompletion(
            id: "chatcmpl-1", model: "gpt-4o",
            content: new OpenAI.Chat.ChatMessageContent("not to be sent"),
            usage: OpenAI.Chat.OpenAIChatModelFactory.ChatTokenUsage(outputTokenCount: 30, inputTokenCount: 120, totalTokenCount: 150,
                inputTokenDetails: OpenAI.Chat.OpenAIChatModelFactory.ChatInputTokenUsageDetails(cachedTokenCount: 20)));

        JsonElement usage = ChatUsageMapper.RawUsage(completion, null)!.Value;

        Assert.Equal(120, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(20, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.DoesNotContain("not to be sent", usage.GetRawText(), StringComparison.Ordinal);
        Assert.Null(ChatUsageMapper.RawUsage(new object(), null)); // unknown SDK type: the abstraction's counts are used
    }

    [Theory]
    [InlineData("openai", "openai")]
    [InlineData("azure.ai.openai", "azure")]
    [InlineData("gemini", "google")]
    [InlineData("some-local-server", null)]
    public void Provider_names_map_to_the_service_ids_or_are_left_to_inference(string name, string? expected) =>
        Assert.Equal(expected, ChatUsageMapper.Provider(name));
}
