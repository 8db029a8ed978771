using System.Text;
using System.Text.Json;
using LlmCost.Core.Pricing;

namespace LlmCost.Cli.Tests;

/// <summary>
/// `llmcost price` reads most lines on a fast path (straight from the UTF-8 bytes) and everything else through the
/// general parser: both must answer the same, byte for byte, and the byte-level line splitting must behave as text.
/// </summary>
public sealed class PricePipelineTests
{
    private static CliServices Real() => CliRunner.Services(PricingEngine.Default);

    [Theory]
    // An escaped key forces the general path; the plain twin takes the fast one.
    [InlineData("""{"id":7,"provider":"openai","model":"gpt-4o","timestamp":"2026-06-01T12:00:00.5Z","usage":{"input_tokens":1200,"cache_read_tokens":200,"output_tokens":300}}""",
                """{"id":7,"provider":"openai","\u006dodel":"gpt-4o","timestamp":"2026-06-01T12:00:00.5Z","usage":{"input_tokens":1200,"cache_read_tokens":200,"output_tokens":300}}""")]
    [InlineData("""{"id":"a-1","model":"claude-sonnet-4-20250514","timestamp":"2026-06-01T14:00:00+02:00","tenant_id":"t","x":[1,{"y":null}],"usage":{"input_tokens":5000,"output_tokens":10}}""",
                """{"id":"a-1","model":"claude-sonnet-4-20250514","timestamp":"2026-06-01T14:00:00+02:00","tenant_id":"t","x":[1,{"y":null}],"usage":{"input_tokens":5000.0,"output_tokens":10}}""")]
    [InlineData("""{"model":"gemini-2.5-pro","timestamp":"2026-06-01T12:00:00Z","usage":{"input_tokens":250000,"output_tokens":1000,"web_searches":0}}""",
                """{"model":"gemini-2.5-pro","timestamp":"2026-06-01T12:00:00Z","usage":{"input_tokens":250000,"output_tokens":1e3,"web_searches":0}}""")]
    public async Task TheFastAndTheGeneralPathAnswerTheSame(string fast, string general)
    {
        (int exit, string[] lines, string error) = await CliRunner.RunAsync(fast + "\n" + general + "\n", Real(), "price");

        Assert.True(exit == 0, error);
        Assert.Equal(2, lines.Length);
        Assert.Equal(lines[0].Replace("\"line\":1,", "", StringComparison.Ordinal), lines[1].Replace("\"line\":2,", "", StringComparison.Ordinal));
        Assert.True(JsonDocument.Parse(lines[0]).RootElement.GetProperty("priced").GetBoolean());
    }

    [Theory]
    [InlineData("""{"model":"gpt-4o","usage":{"input_tokens":10,"input_tokens":11}}""", "usage.input_tokens")]
    [InlineData("""{"model":"gpt-4o","usage":{"input_tokens":10,"cache_read_tokens":11}}""", "usage")]
    [InlineData("""{"model":"gpt-4o","usage":{"input_tokens":-1}}""", "usage.input_tokens")]
    [InlineData("""{"model":"gpt-4o","timestamp":"2026-02-30T00:00:00Z","usage":{"input_tokens":1}}""", "timestamp")]
    public async Task WhatTheFastPathDoesNotTakeIsStillJudgedByTheGeneralParser(string line, string field)
    {
        (int exit, string[] lines, _) = await CliRunner.RunAsync(line + "\n", Real(), "price");

        Assert.Equal(1, exit);
        JsonElement answer = JsonDocument.Parse(Assert.Single(lines)).RootElement;
        Assert.Contains(answer.GetProperty("errors").EnumerateArray(), e => e.GetProperty("field").GetString()!.StartsWith(field, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ByteOrderMarkCrLfBlankLinesAndALastLineWithoutNewlineBehaveAsText()
    {
        string call = """{"model":"gpt-4o","timestamp":"2026-06-01T12:00:00Z","usage":{"input_tokens":1000,"output_tokens":0}}""";
        using var input = new MemoryStream([.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes($"{call}\r\n \t\r\n{call}")]);
        using var output = new MemoryStream();
        int exit = await CliApp.RunAsync(["price"], new CliStreams(input, output, new StringWriter()), Real());

        string[] lines = Encoding.UTF8.GetString(output.ToArray()).TrimEnd('\n').Split('\n');
        Assert.Equal(0, exit);
        Assert.Equal(3, lines.Length);
        Assert.Equal("0.0025", JsonDocument.Parse(lines[0]).RootElement.GetProperty("cost_usd").GetString());
        Assert.Equal("blank line", JsonDocument.Parse(lines[1]).RootElement.GetProperty("skipped").GetString());
        Assert.Equal("0.0025", JsonDocument.Parse(lines[2]).RootElement.GetProperty("cost_usd").GetString());
    }
}
