using System.Text.Json;

namespace LlmCost.Cli.Tests;

public sealed class EstimateCommandTests
{
    [Fact]
    public async Task Request_GivesTheWorstCase()
    {
        // gpt-4o... priced by the stand-in as model m1 is required: use input_tokens with m1.
        (int exit, string[] lines, _) = await CliRunner.RunAsync(
            """{"model":"m1","input_tokens":2000,"max_tokens":1000}""", CliRunner.Services(new SimpleCalculator()), "estimate");

        Assert.Equal(0, exit);
        JsonElement result = JsonDocument.Parse(Assert.Single(lines)).RootElement;
        // 2000 * $1/M + 1000 * $2/M = 0.004.
        Assert.Equal("0.004", result.GetProperty("worst_case_cost_usd").GetString());
        Assert.Equal(2000, result.GetProperty("input_tokens").GetInt64());
        Assert.Equal(1000, result.GetProperty("max_output_tokens").GetInt64());
        Assert.Equal("given", result.GetProperty("method").GetString());
    }

    [Fact]
    public async Task Messages_AreCounted_AndAnArrayGivesOneLineEach()
    {
        (int exit, string[] lines, _) = await CliRunner.RunAsync("""
            [{"provider":"openai","model":"m1","max_tokens":10,"messages":[{"role":"user","content":"Hello there"}]},
             {"model":"m1","max_tokens":-1,"input_tokens":1}]
            """, CliRunner.Services(new SimpleCalculator()), "estimate");

        Assert.Equal(1, exit);
        Assert.Equal(2, lines.Length);
        JsonElement first = JsonDocument.Parse(lines[0]).RootElement;
        // "m1" is not an OpenAI model name, so with provider openai it is counted with o200k but not called exact:
        // 3 + tokens("user") 1 + tokens("Hello there") 2 + 3 = 9.
        Assert.Equal(9, first.GetProperty("input_tokens").GetInt64());
        Assert.StartsWith("estimate:o200k_base", first.GetProperty("method").GetString(), StringComparison.Ordinal);
        Assert.Equal("max_tokens", JsonDocument.Parse(lines[1]).RootElement.GetProperty("errors")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task BadJson_IsAnError()
    {
        (int exit, string[] lines, _) = await CliRunner.RunAsync("{", CliRunner.Services(new SimpleCalculator()), "estimate");

        Assert.Equal(1, exit);
        Assert.Contains("not valid JSON", JsonDocument.Parse(Assert.Single(lines)).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
