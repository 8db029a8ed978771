using System.Text.Json;
using LlmCost.Core.Pricing;

namespace LlmCost.Cli.Tests;

/// <summary>The CLI with the real engine and built-in catalog; expected costs worked out by hand.</summary>
public sealed class RealPricingTests
{
    private static CliServices Real() => CliRunner.Services(PricingEngine.Default);

    [Fact]
    public async Task Price_RawAnthropicUsage_CanonicalOpenAiUsage_AndAnUnknownModel()
    {
        string input = string.Join("\n",
            // Anthropic: 1,000 uncached * $3 + 2,000 read * $0.30 + 500 5m-write * $3.75 + 300 1h-write * $6
            //            + 400 output * $15 = 3,000 + 600 + 1,875 + 1,800 + 6,000 = $0.013275.
            """{"provider":"anthropic","model":"claude-sonnet-4-20250514","timestamp":"2026-06-01T12:00:00Z","raw_usage":{"input_tokens":1000,"cache_read_input_tokens":2000,"cache_creation_input_tokens":800,"cache_creation":{"ephemeral_5m_input_tokens":500,"ephemeral_1h_input_tokens":300},"output_tokens":400}}""",
            // gpt-4o canonical: 1,000,000 input of which 400,000 cached: 600,000 * 2.5 + 400,000 * 1.25 + 100,000 * 10
            //                   = 1.5 + 0.5 + 1.0 = $3.
            """{"provider":"openai","model":"gpt-4o","timestamp":"2026-06-01T12:00:00Z","usage":{"input_tokens":1000000,"cache_read_tokens":400000,"output_tokens":100000}}""",
            """{"provider":"openai","model":"gpt-no-such-model","timestamp":"2026-06-01T12:00:00Z","usage":{"input_tokens":10}}""");

        (int exit, string[] lines, _) = await CliRunner.RunAsync(input, Real(), "price");

        Assert.Equal(0, exit);
        JsonElement anthropic = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal("0.013275", anthropic.GetProperty("cost_usd").GetString());
        Assert.Equal("anthropic", anthropic.GetProperty("provider_id").GetString());
        Assert.Equal("claude-sonnet-4-0", anthropic.GetProperty("model_id").GetString());
        Dictionary<string, string> breakdown = anthropic.GetProperty("breakdown").EnumerateArray()
            .ToDictionary(c => c.GetProperty("class").GetString()!, c => c.GetProperty("cost_usd").GetString()!);
        Assert.Equal("0.003", breakdown["input_mtok"]);
        Assert.Equal("0.0006", breakdown["cache_read_mtok"]);
        Assert.Equal("0.001875", breakdown["cache_write_mtok"]);
        Assert.Equal("0.0018", breakdown["cache_write_1h_mtok"]);
        Assert.Equal("0.006", breakdown["output_mtok"]);

        Assert.Equal("3", JsonDocument.Parse(lines[1]).RootElement.GetProperty("cost_usd").GetString());

        JsonElement unknown = JsonDocument.Parse(lines[2]).RootElement;
        Assert.False(unknown.GetProperty("priced").GetBoolean());
        Assert.Equal(JsonValueKind.Null, unknown.GetProperty("cost_usd").ValueKind);
        Assert.False(string.IsNullOrEmpty(unknown.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task Estimate_ClaudeWithMaxTokens()
    {
        // 20,000 given input * $3 + 4,096 max output * $15 = 0.06 + 0.06144 = $0.12144.
        (int exit, string[] lines, _) = await CliRunner.RunAsync(
            """{"provider":"anthropic","model":"claude-sonnet-4-20250514","input_tokens":20000,"max_tokens":4096}""", Real(), "estimate");

        Assert.Equal(0, exit);
        Assert.Equal("0.12144", JsonDocument.Parse(Assert.Single(lines)).RootElement.GetProperty("worst_case_cost_usd").GetString());
    }

    [Fact]
    public async Task CatalogShow_ResolvesLikePricing()
    {
        (int exit, string[] lines, _) = await CliRunner.RunAsync("", Real(), "catalog", "show", "o3-2025-04-16", "--provider", "openai", "--at", "2025-05-01T00:00:00Z");

        Assert.Equal(0, exit);
        JsonElement model = JsonDocument.Parse(Assert.Single(lines)).RootElement;
        Assert.Equal("o3", model.GetProperty("model_id").GetString());
        // Before the 2025-06-10 price cut o3 was $10 / $40.
        Assert.Equal("10", model.GetProperty("prices_in_force").GetProperty("input_mtok").GetString());
        Assert.Equal(2, model.GetProperty("price_tables").GetArrayLength());
    }

    [Fact]
    public async Task CatalogList_OneProvider()
    {
        (int exit, string[] lines, _) = await CliRunner.RunAsync("", Real(), "catalog", "list", "--provider", "anthropic", "--json");

        Assert.Equal(0, exit);
        Assert.Contains(lines, l => JsonDocument.Parse(l).RootElement.GetProperty("model_id").GetString() == "claude-sonnet-4-0");
        Assert.All(lines, l => Assert.Equal("anthropic", JsonDocument.Parse(l).RootElement.GetProperty("provider_id").GetString()));
    }

    [Fact]
    public async Task Replay_TraceRows_ArePricedAtTheirTimestamps()
    {
        // The first 3 rows of the code trace (copied, so the test does not depend on the shared folder):
        // (4808, 10), (3180, 8), (110, 27). One model, gpt-4o at $2.50 / $10:
        // 8,098 * 2.5 + 45 * 10 = 20,245 + 450 = $0.020695.
        string directory = Directory.CreateTempSubdirectory("llmcost-trace-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(directory, "AzureLLMInferenceTrace_code.csv"),
                "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,4808,10\r\n" +
                "2023-11-16 18:17:04.0319600,3180,8\r\n2023-11-16 18:17:04.0781490,110,27");

            (int exit, string[] lines, _) = await CliRunner.RunAsync("", CliRunner.Services(PricingEngine.Default, directory),
                "replay", "--trace", "code", "--models", "openai:gpt-4o", "--json");

            Assert.Equal(0, exit);
            JsonElement totals = JsonDocument.Parse(Assert.Single(lines)).RootElement;
            Assert.Equal(3, totals.GetProperty("requests").GetInt64());
            Assert.Equal("0.020695", totals.GetProperty("cost_usd").GetString());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

public sealed class PolicyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("llmcost-policy-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Policy_AppliesTheTenantsDiscount_OnlyToItsLines()
    {
        string policy = Path.Combine(_directory, "policy.json");
        File.WriteAllText(policy, """{"tenants":{"acme":{"discount_percent":20}}}""");
        var services = new CliServices { CalculatorFactory = CliDefaults.CreateCalculator, Time = TimeProvider.System };
        string input = string.Join("\n",
            """{"provider":"openai","model":"gpt-4o","timestamp":"2026-06-01T00:00:00Z","tenant_id":"acme","usage":{"input_tokens":1000000}}""",
            """{"provider":"openai","model":"gpt-4o","timestamp":"2026-06-01T00:00:00Z","usage":{"input_tokens":1000000}}""");

        (int exit, string[] lines, string error) = await CliRunner.RunAsync(input, services, "price", "--policy", policy);

        // gpt-4o input $2.50 per million; acme pays 20% less: $2.00.
        Assert.True(exit == 0, error);
        Assert.Equal("2", JsonDocument.Parse(lines[0]).RootElement.GetProperty("cost_usd").GetString());
        Assert.Equal("2.5", JsonDocument.Parse(lines[1]).RootElement.GetProperty("cost_usd").GetString());
    }

    [Fact]
    public async Task InvalidPolicy_IsAUsageError()
    {
        string policy = Path.Combine(_directory, "bad.json");
        File.WriteAllText(policy, """{"tenants":{"acme":{"discount_percent":150}}}""");
        var services = new CliServices { CalculatorFactory = CliDefaults.CreateCalculator, Time = TimeProvider.System };

        (int exit, _, string error) = await CliRunner.RunAsync("", services, "price", "--policy", policy);

        Assert.Equal(2, exit);
        Assert.Contains("discount_percent", error, StringComparison.Ordinal);
    }
}
