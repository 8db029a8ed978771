using System.Text.Json;
using LlmCost.Core.Estimation;

namespace LlmCost.Core.Tests.Estimation;

public sealed class EstimateRequestParserTests
{
    private static EstimateRequestParseResult Parse(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        return EstimateRequestParser.Parse(doc.RootElement);
    }

    [Fact]
    public void AnthropicRequestBody_IsRead()
    {
        EstimateRequestParseResult result = Parse("""
            {"model":"claude-sonnet-4-20250514","max_tokens":1024,"system":[{"type":"text","text":"Be brief."}],
             "messages":[{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"image","width":800,"height":600,"source":{"type":"base64"}}]}],
             "tools":[{"name":"get_weather","description":"Weather.","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}
            """);

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        EstimateRequest request = result.Request!;
        Assert.Equal(1024, request.MaxOutputTokens);
        Assert.Equal(["system", "user"], request.Messages.Select(m => m.Role));
        Assert.Equal("Be brief.", request.Messages[0].Content);
        Assert.Equal(new ImageInput(800, 600), Assert.Single(request.Messages[1].Images));
        ToolDefinition tool = Assert.Single(request.Tools);
        Assert.Equal("get_weather", tool.Name);
        Assert.NotNull(tool.Parameters);
    }

    [Fact]
    public void OpenAiChatTools_AreUnwrapped()
    {
        EstimateRequestParseResult result = Parse("""
            {"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"x"}],
             "tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{}}}}]}
            """);

        Assert.Equal(new ToolDefinition("f", "d", null) with { Parameters = result.Request!.Tools[0].Parameters }, result.Request.Tools[0]);
    }

    [Theory]
    [InlineData("""{"max_tokens":10,"input_tokens":5}""", "model")]
    [InlineData("""{"model":"gpt-4o","input_tokens":5}""", "max_tokens")]
    [InlineData("""{"model":"gpt-4o","max_tokens":-1,"input_tokens":5}""", "max_tokens")]
    [InlineData("""{"model":"gpt-4o","max_tokens":"10","input_tokens":5}""", "max_tokens")]
    [InlineData("""{"model":"gpt-4o","max_tokens":10}""", "messages")]
    [InlineData("""{"model":"gpt-4o","max_tokens":10,"input_tokens":1.5}""", "input_tokens")]
    [InlineData("""{"model":"gpt-4o","max_tokens":10,"messages":[{"content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":5}]}""", "messages[0].content")]
    [InlineData("""{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image_url"}]}]}""", "messages[0].content[0]")]
    [InlineData("""{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","width":10,"height":10,"detail":"ultra"}]}]}""", "messages[0].content[0].detail")]
    [InlineData("""{"model":"gpt-4o","max_tokens":10,"messages":"hi"}""", "messages")]
    [InlineData("""{"model":"gpt-4o","max_tokens":10,"input_tokens":5,"tools":[{"description":"no name"}]}""", "tools[0].name")]
    [InlineData("""{"model":"gpt-4o","max_tokens":10,"input_tokens":5,"timestamp":"yesterday"}""", "timestamp")]
    [InlineData("""{"model":42,"max_tokens":10,"input_tokens":5}""", "model")]
    public void BadRequest_NamesTheField(string json, string field)
    {
        EstimateRequestParseResult result = Parse(json);

        Assert.False(result.IsValid);
        Assert.Contains(result.Errors, e => e.Field == field);
    }
}

public sealed class ProviderRequestBodyTests
{
    private static EstimateRequest Parse(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        EstimateRequestParseResult result = EstimateRequestParser.Parse(doc.RootElement);
        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        return result.Request!;
    }

    [Fact]
    public void ResponsesApiBody()
    {
        EstimateRequest request = Parse("""
            {"model":"o3","instructions":"Be terse.","input":"What is 2+2?","max_output_tokens":500}
            """);

        Assert.Equal(500, request.MaxOutputTokens);
        Assert.Equal([("system", "Be terse."), ("user", "What is 2+2?")], request.Messages.Select(m => (m.Role, m.Content!)));
    }

    [Fact]
    public void GeminiBody_ThinkingBudgetIsAdded()
    {
        EstimateRequest request = Parse("""
            {"model":"gemini-2.5-flash","systemInstruction":{"parts":[{"text":"Be kind."}]},
             "contents":[{"role":"user","parts":[{"text":"Hello"},{"inlineData":{"mimeType":"image/png","data":"iVBOR"},"width":300,"height":200}]}],
             "tools":[{"functionDeclarations":[{"name":"lookup","description":"Looks up.","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}]}],
             "generationConfig":{"maxOutputTokens":2048,"thinkingConfig":{"thinkingBudget":1024}}}
            """);

        Assert.Equal(2048, request.MaxOutputTokens);
        Assert.Equal(1024, request.ThinkingBudgetTokens);
        Assert.Equal(["system", "user"], request.Messages.Select(m => m.Role));
        Assert.Equal(new ImageInput(300, 200), Assert.Single(request.Messages[1].Images));
        Assert.Equal("lookup", Assert.Single(request.Tools).Name);
    }

    [Fact]
    public void GeminiInlineImageWithoutSize_IsAnError()
    {
        using JsonDocument doc = JsonDocument.Parse("""
            {"model":"gemini-2.5-flash","contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png","data":"x"}}]}],
             "generationConfig":{"maxOutputTokens":10}}
            """);

        EstimateRequestParseResult result = EstimateRequestParser.Parse(doc.RootElement);

        Assert.Equal("contents[0].parts[0]", Assert.Single(result.Errors).Field);
    }
}
