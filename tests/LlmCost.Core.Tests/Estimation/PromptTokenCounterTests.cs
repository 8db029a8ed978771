using System.Text.Json;
using LlmCost.Core.Estimation;
using SharpToken;

namespace LlmCost.Core.Tests.Estimation;

public sealed class PromptTokenCounterTests
{
    // The OpenAI Cookbook's example conversation (How_to_count_tokens_with_tiktoken.ipynb, section 6). The API
    // itself reported usage.prompt_tokens = 129 for gpt-3.5-turbo / gpt-4 and 124 for gpt-4o / gpt-4o-mini.
    private static readonly ChatMessage[] _cookbookMessages =
    [
        new("system", "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."),
        new("system", "New synergies will help drive top-line growth.", "example_user"),
        new("system", "Things working well together will increase revenue.", "example_assistant"),
        new("system", "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.", "example_user"),
        new("system", "Let's talk later when we're less busy about how to do better.", "example_assistant"),
        new("user", "This late pivot means we don't have time to boil the ocean for the client deliverable."),
    ];

    // Section 7's tool example: the API reported 105 prompt tokens for gpt-3.5-turbo / gpt-4, 101 for gpt-4o.
    private static readonly ChatMessage[] _weatherMessages =
    [
        new("system", "You are a helpful assistant that can answer to questions about the weather."),
        new("user", "What's the weather like in San Francisco?"),
    ];

    private static ToolDefinition WeatherTool()
    {
        using JsonDocument schema = JsonDocument.Parse("""
            {
              "type": "object",
              "properties": {
                "location": { "type": "string", "description": "The city and state, e.g. San Francisco, CA" },
                "unit": { "type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"] }
              },
              "required": ["location"]
            }
            """);
        return new ToolDefinition("get_current_weather", "Get the current weather in a given location", schema.RootElement.Clone());
    }

    [Theory]
    [InlineData("gpt-4o", 124)]
    [InlineData("gpt-4o-mini", 124)]
    [InlineData("gpt-4o-2024-08-06", 124)]
    [InlineData("gpt-4", 129)]
    [InlineData("gpt-3.5-turbo", 129)]
    public void ChatFraming_MatchesTheApiMeasuredCookbookCounts(string model, long expected)
    {
        PromptTokenCount count = PromptTokenCounter.Default.Count("openai", model, _cookbookMessages);

        Assert.Equal(expected, count.Tokens);
        Assert.True(count.Exact);
    }

    [Theory]
    [InlineData("gpt-4o", 101)]
    [InlineData("gpt-4o-mini", 101)]
    [InlineData("gpt-4", 105)]
    [InlineData("gpt-3.5-turbo", 105)]
    public void ToolDefinitions_MatchTheApiMeasuredCookbookCounts(string model, long expected)
    {
        PromptTokenCount count = PromptTokenCounter.Default.Count("openai", model, _weatherMessages, [WeatherTool()]);

        Assert.Equal(expected, count.Tokens);
    }

    [Theory]
    [InlineData("gpt-4o", "o200k_base")]
    [InlineData("gpt-4o-mini-2024-07-18", "o200k_base")]
    [InlineData("gpt-4.1-nano", "o200k_base")]
    [InlineData("gpt-4.5-preview", "o200k_base")]
    [InlineData("gpt-5", "o200k_base")]
    [InlineData("gpt-5-mini-2025-08-07", "o200k_base")]
    [InlineData("o1", "o200k_base")]
    [InlineData("o3-mini", "o200k_base")]
    [InlineData("o4-mini", "o200k_base")]
    [InlineData("openai/gpt-4o", "o200k_base")]
    [InlineData("gpt-4", "cl100k_base")]
    [InlineData("gpt-4-turbo-2024-04-09", "cl100k_base")]
    [InlineData("gpt-4-0613", "cl100k_base")]
    [InlineData("gpt-3.5-turbo-0125", "cl100k_base")]
    [InlineData("gpt-35-turbo", "cl100k_base")]
    [InlineData("text-embedding-3-small", "cl100k_base")]
    [InlineData("claude-sonnet-4-20250514", null)]
    [InlineData("my-azure-deployment", null)]
    public void EncodingForModel(string model, string? expected) =>
        Assert.Equal(expected, TokenizerCache.EncodingForModel(model));

    [Theory]
    [InlineData("o200k_base")]
    [InlineData("cl100k_base")]
    public void TextCounts_AgreeWithSharpToken(string encoding)
    {
        GptEncoding oracle = GptEncoding.GetEncoding(encoding);
        string[] texts =
        [
            "Hello, world!",
            "antidisestablishmentarianism",
            "お誕生日おめでとう",
            "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
            "Prices: $3.00 / 1M input tokens, $15.00 / 1M output tokens (claude-sonnet-4).",
            string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 50)),
        ];

        foreach (string text in texts)
        {
            Assert.Equal(oracle.CountTokens(text), PromptTokenCounter.CountText(encoding, text));
        }
    }

    [Fact]
    public void AzureDeploymentName_IsCountedWithO200k_ButNotCalledExact()
    {
        PromptTokenCount count = PromptTokenCounter.Default.Count("azure", "prod-chat-deployment", _cookbookMessages);

        Assert.Equal(124, count.Tokens);
        Assert.False(count.Exact);
        Assert.StartsWith("estimate:o200k_base", count.Method, StringComparison.Ordinal);
    }

    [Fact]
    public void Anthropic_IsAnO200kBasedEstimateWithMargin()
    {
        ChatMessage[] messages = [new("user", "Summarise the attached contract in three bullet points.")];
        GptEncoding oracle = GptEncoding.GetEncoding("o200k_base");
        long text = oracle.CountTokens("user") + oracle.CountTokens(messages[0].Content!);

        PromptTokenCount count = PromptTokenCounter.Default.Count("anthropic", "claude-sonnet-4-20250514", messages);

        // ceil(text * 1.35) + 4 per message + 3 reply priming.
        Assert.Equal((long)Math.Ceiling(text * 1.35m) + 4 + 3, count.Tokens);
        Assert.False(count.Exact);
        Assert.Equal("estimate:anthropic-o200k-x1.35", count.Method);
    }

    [Fact]
    public void Anthropic_ToolUse_AddsItsSystemPrompt()
    {
        PromptTokenCount without = PromptTokenCounter.Default.Count("anthropic", "claude-sonnet-4-20250514", _weatherMessages);
        PromptTokenCount with = PromptTokenCounter.Default.Count("anthropic", "claude-sonnet-4-20250514", _weatherMessages, [WeatherTool()]);

        Assert.True(with.Tokens - without.Tokens > 346, $"tool overhead {with.Tokens - without.Tokens}");
    }

    [Fact]
    public void Gemini_UsesItsFactorAndImageFormula()
    {
        ChatMessage[] messages = [new("user", "Describe this picture.") { Images = [new ImageInput(1000, 800)] }];
        GptEncoding oracle = GptEncoding.GetEncoding("o200k_base");
        long text = oracle.CountTokens("user") + oracle.CountTokens("Describe this picture.");

        PromptTokenCount count = PromptTokenCounter.Default.Count("google", "gemini-2.5-flash", messages);

        // 1000x800 is above 384px: ceil(1000/768) * ceil(800/768) = 4 tiles of 258.
        Assert.Equal((long)Math.Ceiling(text * 1.15m) + 4 * 258 + 4 + 3, count.Tokens);
        Assert.Equal("estimate:gemini-o200k-x1.15", count.Method);
    }

    [Fact]
    public void OpenAi_ImagesAddTheirTileTokens()
    {
        ChatMessage[] plain = [new("user", "What is in this image?")];
        ChatMessage[] withImage = [new("user", "What is in this image?") { Images = [new ImageInput(1024, 1024, ImageDetail.High)] }];

        long difference = PromptTokenCounter.Default.Count("openai", "gpt-4o", withImage).Tokens
                          - PromptTokenCounter.Default.Count("openai", "gpt-4o", plain).Tokens;

        Assert.Equal(765, difference);
    }

    [Fact]
    public void ConcurrentCounting_GivesTheSameAnswer()
    {
        long[] results = new long[64];
        Parallel.For(0, results.Length, i =>
            results[i] = PromptTokenCounter.Default.Count("openai", i % 2 == 0 ? "gpt-4o" : "gpt-4", _cookbookMessages).Tokens);

        Assert.All(results.Where((_, i) => i % 2 == 0), r => Assert.Equal(124, r));
        Assert.All(results.Where((_, i) => i % 2 == 1), r => Assert.Equal(129, r));
    }
}
