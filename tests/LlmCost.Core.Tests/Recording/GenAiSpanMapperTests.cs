using LlmCost.Core.Recording;

namespace LlmCost.Core.Tests.Recording;

public sealed class GenAiSpanMapperTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 16, 12, 0, 0, TimeSpan.Zero);
    private const string Trace = "0102030405060708090a0b0c0d0e0f10";

    private static TelemetrySpan Span(Dictionary<string, object> attributes, Dictionary<string, object>? resource = null, bool failed = false) =>
        new(Trace, "1112131415161718", "chat", Now.AddSeconds(-3), Now.AddSeconds(-1), failed, attributes,
            resource ?? new Dictionary<string, object> { ["service.name"] = "svc" });

    private static GenAiSpanResult Map(TelemetrySpan span, GenAiSpanMapping? mapping = null) =>
        GenAiSpanMapper.Map(span, mapping ?? new GenAiSpanMapping(), new RecordingLimits(), Now);

    [Fact]
    public void CurrentConventionNamesMapToTheCanonicalEvent()
    {
        GenAiSpanResult result = Map(Span(new()
        {
            ["gen_ai.provider.name"] = "azure.ai.openai", ["gen_ai.request.model"] = "gpt-4o", ["gen_ai.response.model"] = "gpt-4o-2024-11-20",
            ["gen_ai.usage.input_tokens"] = 1000L, ["gen_ai.usage.output_tokens"] = 300L, ["gen_ai.usage.cache_read.input_tokens"] = 200L,
            ["gen_ai.usage.cache_creation.input_tokens"] = 100L, ["gen_ai.usage.reasoning.output_tokens"] = 50L,
            ["user.id"] = "alice", ["llmcost.team_id"] = "red",
        }));

        Assert.Equal(GenAiSpanOutcome.Mapped, result.Outcome);
        UsageSubmission s = result.Submission!;
        Assert.Equal("azure", s.Provider); // not "openai", which the catalog's own name matching would pick
        Assert.Equal("gpt-4o-2024-11-20", s.Model);
        Assert.Equal((1000, 300, 200, 100, 50), (s.Usage.InputTokens, s.Usage.OutputTokens, s.Usage.CacheReadTokens, s.Usage.CacheWriteTokens, s.Usage.ReasoningTokens));
        Assert.Equal(("alice", "red", "svc"), (s.UserId, s.TeamId, s.App));
        Assert.Equal($"{Trace}-1112131415161718", s.EventId);
        Assert.Equal(Now.AddSeconds(-1), s.Timestamp);
        Assert.Equal(2000, s.LatencyMs);
        Assert.Equal(UsageStatuses.Success, s.Status);
    }

    [Fact]
    public void OlderNamesAreReadAndTheResponseIdIsTheEventId()
    {
        GenAiSpanResult result = Map(Span(new()
        {
            ["gen_ai.system"] = "gcp.vertex_ai", ["gen_ai.request.model"] = "gemini-2.0-flash", ["gen_ai.usage.prompt_tokens"] = 10.0,
            ["gen_ai.usage.completion_tokens"] = "4", ["gen_ai.usage.cache_read_input_tokens"] = 3L, ["gen_ai.response.id"] = "resp-1",
            ["enduser.id"] = "bob",
        }));

        UsageSubmission s = result.Submission!;
        Assert.Equal(("google", 10, 4, 3), (s.Provider, s.Usage.InputTokens, s.Usage.OutputTokens, s.Usage.CacheReadTokens));
        Assert.Equal(("resp-1", "bob"), (s.EventId, s.UserId));
    }

    [Fact]
    public void ConfiguredAttributesAndProvidersWin()
    {
        var mapping = new GenAiSpanMapping
        {
            UserAttributes = ["app.user"], AppAttributes = ["deployment.name"], FallbackUserId = null,
            Providers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["my-gateway"] = "openai" },
        };
        var resource = new Dictionary<string, object> { ["app.user"] = "carol", ["deployment.name"] = "prod" };
        UsageSubmission s = Map(Span(new() { ["gen_ai.system"] = "my-gateway", ["gen_ai.request.model"] = "gpt-4o", ["gen_ai.usage.input_tokens"] = 1L }, resource), mapping).Submission!;
        Assert.Equal(("openai", "carol", "prod"), (s.Provider, s.UserId, s.App));

        GenAiSpanResult noUser = Map(Span(new() { ["gen_ai.request.model"] = "gpt-4o", ["gen_ai.usage.input_tokens"] = 1L }), mapping);
        Assert.Equal(("no_user", GenAiSpanOutcome.Rejected), (noUser.ReasonCode, noUser.Outcome));
        Assert.Contains("app.user", noUser.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gen_ai.usage.input_tokens", -1L, "bad_tokens")]
    [InlineData("gen_ai.usage.input_tokens", 1.5, "bad_tokens")]
    [InlineData("gen_ai.usage.output_tokens", "many", "bad_tokens")]
    [InlineData("gen_ai.usage.cache_read.input_tokens", 5000L, "bad_tokens")]
    [InlineData("gen_ai.usage.reasoning.output_tokens", 5000L, "bad_tokens")]
    [InlineData("user.id", "a|b", "invalid_event")]
    public void AWrongNumberOrIdIsRejectedNamingTheAttribute(string attribute, object value, string code)
    {
        var attributes = new Dictionary<string, object>
        {
            ["gen_ai.request.model"] = "gpt-4o", ["gen_ai.usage.input_tokens"] = 100L, ["gen_ai.usage.output_tokens"] = 100L, ["user.id"] = "u",
        };
        attributes[attribute] = value;
        GenAiSpanResult result = Map(Span(attributes));
        Assert.Equal(GenAiSpanOutcome.Rejected, result.Outcome);
        Assert.Equal(code, result.ReasonCode);
        Assert.Contains(attribute == "user.id" ? "user" : attribute, result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void SpansThatAreNotModelCallsAreSkippedAndCallsWithoutUsageRejectedUnlessTheyFailed()
    {
        Assert.Equal(GenAiSpanOutcome.NotGenAi, Map(Span(new() { ["http.request.method"] = "GET" })).Outcome);
        Assert.Equal(GenAiSpanOutcome.NotAModelCall, Map(Span(new()
        {
            ["gen_ai.operation.name"] = "invoke_agent", ["gen_ai.request.model"] = "gpt-4o", ["gen_ai.usage.input_tokens"] = 9L,
        })).Outcome);
        Assert.Equal("no_model", Map(Span(new() { ["gen_ai.usage.input_tokens"] = 9L })).ReasonCode);
        Assert.Equal("no_usage", Map(Span(new() { ["gen_ai.request.model"] = "gpt-4o" })).ReasonCode);

        GenAiSpanResult failed = Map(Span(new() { ["gen_ai.request.model"] = "gpt-4o" }, failed: true));
        Assert.Equal(UsageStatuses.Error, failed.Submission!.Status);
        Assert.Equal(0, failed.Submission.Usage.TotalTokens);
        Assert.Equal("unattributed", failed.Submission.UserId);
    }

    [Fact]
    public void ASpanFromTheFarFutureIsRejectedByTheSameTimestampRuleAsPostApiUsage()
    {
        var span = Span(new() { ["gen_ai.request.model"] = "gpt-4o", ["gen_ai.usage.input_tokens"] = 1L }) with { End = Now.AddDays(2) };
        GenAiSpanResult result = Map(span);
        Assert.Equal("invalid_event", result.ReasonCode);
        Assert.Contains("end time", result.Reason, StringComparison.Ordinal);
    }
}
