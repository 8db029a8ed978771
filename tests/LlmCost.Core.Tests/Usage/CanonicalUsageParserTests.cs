using System.Text.Json;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Tests.Usage;

public sealed class CanonicalUsageParserTests
{
    [Fact]
    public void AllKeys_AreRead()
    {
        UsageParseResult result = CanonicalUsageParser.Parse("""
            {"input_tokens":5000,"cache_read_tokens":2000,"cache_write_tokens":800,"cache_write_1h_tokens":300,
             "input_audio_tokens":700,"cache_audio_read_tokens":100,"output_tokens":900,"reasoning_tokens":400,
             "output_audio_tokens":50,"web_searches":3}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(UsageShape.Canonical, result.Shape);
        Assert.Equal(new CanonicalUsage
        {
            InputTokens = 5000, CacheReadTokens = 2000, CacheWriteTokens = 800, CacheWrite1hTokens = 300,
            InputAudioTokens = 700, CacheAudioReadTokens = 100, OutputTokens = 900, ReasoningTokens = 400,
            OutputAudioTokens = 50, WebSearches = 3,
        }, result.Usage);
    }

    [Fact]
    public void MissingKeys_AreZero_AndTheCallIsOneRequest()
    {
        UsageParseResult result = CanonicalUsageParser.Parse("""{"input_tokens":10}""");

        Assert.True(result.IsValid);
        Assert.Equal(10, result.Usage!.InputTokens);
        Assert.Equal(0, result.Usage.OutputTokens);
        Assert.Equal(1, result.Usage.Requests);
    }

    [Fact]
    public void WholeNumberWithZeroFraction_IsAccepted()
    {
        UsageParseResult result = CanonicalUsageParser.Parse("""{"input_tokens":12.0,"output_tokens":1e2}""");

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(12, result.Usage!.InputTokens);
        Assert.Equal(100, result.Usage.OutputTokens);
    }

    [Theory]
    [InlineData("""{"input_tokens":-1}""", "usage.input_tokens", "negative")]
    [InlineData("""{"input_tokens":10,"output_tokens":1.5}""", "usage.output_tokens", "whole number")]
    [InlineData("""{"input_tokens":"100"}""", "usage.input_tokens", "string")]
    [InlineData("""{"input_tokens":true}""", "usage.input_tokens", "boolean")]
    [InlineData("""{"input_tokens":[1]}""", "usage.input_tokens", "array")]
    [InlineData("""{"input_tokens":99999999999999999999}""", "usage.input_tokens", "too large")]
    [InlineData("""{"input_tokens":1e300}""", "usage.input_tokens", "too large")]
    [InlineData("""{"input_tokens":-1e300}""", "usage.input_tokens", "negative")]
    [InlineData("""{"input_tokens":1000000000000001}""", "usage.input_tokens", "too large")]
    [InlineData("""{"input_tokens":10,"cache_read_tokens":11}""", "usage.cache_read_tokens", "exceeds input_tokens")]
    [InlineData("""{"input_tokens":10,"cache_write_tokens":11}""", "usage.cache_write_tokens", "exceeds input_tokens")]
    [InlineData("""{"input_tokens":10,"cache_write_tokens":5,"cache_write_1h_tokens":6}""", "usage.cache_write_1h_tokens", "exceeds cache_write_tokens")]
    [InlineData("""{"input_tokens":10,"input_audio_tokens":11}""", "usage.input_audio_tokens", "exceeds input_tokens")]
    [InlineData("""{"input_tokens":10,"input_audio_tokens":2,"cache_read_tokens":5,"cache_audio_read_tokens":3}""", "usage.cache_audio_read_tokens", "exceeds input_audio_tokens")]
    [InlineData("""{"input_tokens":10,"input_audio_tokens":5,"cache_read_tokens":2,"cache_audio_read_tokens":3}""", "usage.cache_audio_read_tokens", "exceeds cache_read_tokens")]
    [InlineData("""{"output_tokens":10,"reasoning_tokens":11}""", "usage.reasoning_tokens", "exceeds output_tokens")]
    [InlineData("""{"output_tokens":10,"output_audio_tokens":11}""", "usage.output_audio_tokens", "exceeds output_tokens")]
    [InlineData("""{"input_tokens":10,"cache_read_tokens":6,"cache_write_tokens":5}""", "usage.cache_write_tokens", "exceed input_tokens")]
    [InlineData("""{"input_tokens":10,"input_audio_tokens":6,"cache_read_tokens":5,"cache_audio_read_tokens":0}""", "usage.input_audio_tokens", "exceed input_tokens")]
    [InlineData("""{"input_tokens":10,"input_text_tokens":6,"input_image_tokens":5}""", "usage.input_text_tokens", "input_image_tokens (5) + input_text_tokens (6) exceed input_tokens")]
    [InlineData("""{"input_tokens":10,"cache_text_read_tokens":5}""", "usage.cache_text_read_tokens", "cache_read_tokens, which is missing")]
    [InlineData("""{"output_tokens":10,"output_image_tokens":11}""", "usage.output_image_tokens", "exceeds output_tokens")]
    [InlineData("""{"input_tokens":10,"cache_write_tokens":8,"cache_write_5m_tokens":5,"cache_write_1h_tokens":4}""", "usage.cache_write_5m_tokens", "exceed cache_write_tokens")]
    [InlineData("""{"audio_seconds":10,"input_audio_seconds":7,"output_audio_seconds":4}""", "usage.output_audio_seconds", "exceed audio_seconds")]
    [InlineData("""{"input_tokens":10,"input_image_tokens":-1}""", "usage.input_image_tokens", "negative")]
    [InlineData("""{"input_document_pages":1.5}""", "usage.input_document_pages", "whole number")]
    [InlineData("""{"input_tokens":10,"requests":0}""", "usage.requests", "at least 1")]
    [InlineData("""{"input_tokens":10,"reasoning_tokens":1,"output_reasoning_tokens":1,"output_tokens":5}""", "usage.output_reasoning_tokens", "same class as reasoning_tokens")]
    [InlineData("""{"input_tokens":10,"output_tokens":5,"total_tokens":12}""", "usage.total_tokens", "input_tokens + output_tokens is 15")]
    [InlineData("""{"input_tokens":10,"input_image_token":5}""", "usage.input_image_token", "did you mean input_image_tokens")]
    [InlineData("""{"input_tokens":10,"cache_reads":5}""", "usage.cache_reads", "not a known usage key")]
    [InlineData("""{"input_tokens":10,"input_tokens":20}""", "usage.input_tokens", "more than once")]
    public void BadUsage_IsRejected_NamingTheField(string json, string field, string messagePart)
    {
        UsageParseResult result = CanonicalUsageParser.Parse(json);

        Assert.False(result.IsValid);
        Assert.Null(result.Usage);
        FieldError error = Assert.Single(result.Errors);
        Assert.Equal(field, error.Field);
        Assert.Contains(messagePart, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnstatedOverlap_IsUnknown_NotZero()
    {
        // OpenAI reports cached tokens and audio tokens but not cached audio: 6 audio and 5 cached in 10 input is
        // possible (at least 1 cached audio token), so it is accepted; a model pricing the overlap refuses to guess.
        UsageParseResult result = CanonicalUsageParser.Parse("""{"input_tokens":10,"input_audio_tokens":6,"cache_read_tokens":5}""");

        Assert.True(result.IsValid, result.ErrorSummary);
    }

    [Fact]
    public void EveryUnitOfTheLattice_IsACanonicalKey()
    {
        var json = new System.Text.StringBuilder("{");
        foreach (LlmCost.Core.Pricing.UsageUnit unit in LlmCost.Core.Pricing.UsageUnits.All)
        {
            json.Append('"').Append(unit.UsageKey).Append("\":").Append(unit.UsageKey == "requests" ? 1 : 0).Append(',');
        }

        UsageParseResult result = CanonicalUsageParser.Parse(json.ToString().TrimEnd(',') + "}");

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.All(LlmCost.Core.Pricing.UsageUnits.All, u => Assert.True(result.Usage!.IsReported(u), u.UsageKey));
    }

    [Fact]
    public void NewUnits_AreRead()
    {
        UsageParseResult result = CanonicalUsageParser.Parse("""
            {"input_tokens":1200,"input_text_tokens":200,"input_image_tokens":1000,"cache_read_tokens":600,
             "cache_image_read_tokens":500,"cache_text_read_tokens":100,"output_tokens":1500,"output_image_tokens":1290,
             "output_text_tokens":210,"input_document_pages":3,"audio_seconds":60,"input_audio_seconds":60}
            """);

        Assert.True(result.IsValid, result.ErrorSummary);
        Assert.Equal(1000, result.Usage!.Get("input_image_tokens"));
        Assert.Equal(1290, result.Usage.Get("output_image_tokens"));
        Assert.Equal(3, result.Usage.Get("input_document_pages"));
        Assert.Equal(60, result.Usage.Get("input_audio_seconds"));
    }

    [Fact]
    public void AudioCacheReadCountedOnce_IsAccepted()
    {
        // 10 input = 4 uncached text + 3 cached text + 1 uncached audio + 2 cached audio: union of audio (3) and
        // cache reads (5) is 6 <= 10, even though audio + reads = 8.
        UsageParseResult result = CanonicalUsageParser.Parse(
            """{"input_tokens":10,"input_audio_tokens":3,"cache_read_tokens":5,"cache_audio_read_tokens":2}""");

        Assert.True(result.IsValid, result.ErrorSummary);
    }

    [Fact]
    public void EveryProblem_IsReported()
    {
        UsageParseResult result = CanonicalUsageParser.Parse("""{"input_tokens":-5,"output_tokens":"x","bogus":1}""");

        Assert.Equal(["usage.input_tokens", "usage.output_tokens", "usage.bogus"], result.Errors.Select(e => e.Field));
    }

    [Fact]
    public void NonStrict_IgnoresUnknownKeys()
    {
        UsageParseResult result = CanonicalUsageParser.Parse("""{"input_tokens":10,"total_tokens":10}""", strict: false);

        Assert.True(result.IsValid);
    }

    [Fact]
    public void NotAnObject_And_BadJson_AreErrors()
    {
        Assert.Equal("usage", Assert.Single(CanonicalUsageParser.Parse("[1,2]").Errors).Field);
        Assert.Equal("usage", Assert.Single(CanonicalUsageParser.Parse("{\"input_tokens\":").Errors).Field);
    }

    [Fact]
    public void Prefix_IsUsedInFieldNames()
    {
        using JsonDocument doc = JsonDocument.Parse("""{"input_tokens":-1}""");

        UsageParseResult result = CanonicalUsageParser.Parse(doc.RootElement, fieldPrefix: "events[3].usage");

        Assert.Equal("events[3].usage.input_tokens", Assert.Single(result.Errors).Field);
    }

    [Fact]
    public void Validator_RejectsNegativeCountsBuiltInCode()
    {
        IReadOnlyList<FieldError> errors = UsageValidator.Validate(new CanonicalUsage { InputTokens = -3, Requests = 0 });

        Assert.Equal(["usage.input_tokens", "usage.requests"], errors.Select(e => e.Field));
    }
}
