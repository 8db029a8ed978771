using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Cli.Tests;

public sealed class CatalogCommandTests : IDisposable
{
    private static readonly string _liteLlm = Path.Combine(AppContext.BaseDirectory, "TestData", "litellm-sample.json");
    private readonly string _directory = Directory.CreateTempSubdirectory("llmcost-catalog-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static CliServices Real() => CliRunner.Services(PricingEngine.Default);

    [Fact]
    public async Task Validate_LiteLlmSample_ReportsTheTraps_AndFails()
    {
        (int exit, string[] lines, _) = await CliRunner.RunAsync("", Real(), "catalog", "validate", _liteLlm, "--json");

        Assert.Equal(1, exit);
        List<JsonElement> issues = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        JsonElement summary = issues[^1];
        Assert.True(summary.GetProperty("loaded").GetBoolean());
        Assert.Equal("litellm", summary.GetProperty("format").GetString());
        Assert.True(summary.GetProperty("errors").GetInt32() > 0);
        string[] codes = issues.SkipLast(1).Select(i => $"{i.GetProperty("model_id").GetString()}:{i.GetProperty("code").GetString()}").ToArray();
        Assert.Contains("broken/per-million-typed-as-per-token:per-million-as-per-token", codes);
        Assert.Contains("broken/cache-read-above-input:cache-read-above-input", codes);
        Assert.Contains("broken/chat-model-marked-embedding:embedding-mode-on-chat-model", codes);
    }

    [Fact]
    public async Task Validate_MissingFileOrWrongFormat_Fails()
    {
        (int missing, string[] missingLines, _) = await CliRunner.RunAsync("", Real(), "catalog", "validate", Path.Combine(_directory, "none.json"));
        (int wrong, string[] wrongLines, _) = await CliRunner.RunAsync("", Real(), "catalog", "validate", _liteLlm, "--format", "genai-prices");

        Assert.Equal(1, missing);
        Assert.Contains("not loaded", missingLines[^1], StringComparison.Ordinal);
        Assert.Equal(1, wrong);
        Assert.Contains("litellm format", wrongLines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_ToCatalog_RoundTrips_AndDropsTheBrokenEntries()
    {
        string output = Path.Combine(_directory, "catalog.json");

        (int exit, _, string error) = await CliRunner.RunAsync("", Real(), "catalog", "import", _liteLlm, "--out", output);

        Assert.Equal(0, exit);
        Assert.Contains("left out", error, StringComparison.Ordinal);
        // The written file is a clean genai-prices catalog: it validates without issues and loads.
        (int validate, string[] lines, _) = await CliRunner.RunAsync("", Real(), "catalog", "validate", output);
        Assert.Equal(0, validate);
        Assert.StartsWith("genai-prices catalog", lines[^1], StringComparison.Ordinal);

        CatalogLoadResult imported = CatalogLoader.LoadFile(output);
        CatalogLoadResult original = CatalogLoader.LoadFile(_liteLlm);
        Assert.True(imported.Success, imported.Error);
        Assert.DoesNotContain(imported.Catalog!.ListModels(DateTimeOffset.UnixEpoch), m => m.ModelId.StartsWith("broken/per-million", StringComparison.Ordinal));

        // Same price for the same call through either catalog; claude-sonnet-4 from the sample is $3 / $15 with
        // cache read $0.30: 1,000 uncached * 3 + 2,000 read * 0.3 + 400 * 15 = 3,000 + 600 + 6,000 = $0.0096.
        var usage = new CanonicalUsage { InputTokens = 3000, CacheReadTokens = 2000, OutputTokens = 400 };
        var request = new PriceRequest("anthropic", "claude-sonnet-4-20250514", new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero), usage);
        PriceQuote viaImport = new PricingEngine(imported.Catalog).Price(request);
        PriceQuote viaLiteLlm = new PricingEngine(original.Catalog!).Price(request);
        Assert.True(viaImport.Priced, viaImport.Reason);
        Assert.Equal(0.0096m, viaImport.CostUsd);
        Assert.Equal(viaLiteLlm.CostUsd, viaImport.CostUsd);
    }

    [Fact]
    public async Task Import_ToPolicy_IsALoadablePricingPolicyForTheTenant()
    {
        (int exit, string[] lines, _) = await CliRunner.RunAsync("", Real(), "catalog", "import", _liteLlm, "--to", "policy", "--tenant", "acme");

        Assert.Equal(0, exit);
        PolicyLoadResult policy = PricingPolicy.Load(Assert.Single(lines));
        Assert.True(policy.Policy is not null, string.Join("; ", policy.Errors));
        Assert.Contains(policy.Policy.Tenants["acme"].Models, m => m.Model == "gpt-4o" && m.Provider == "openai");
    }

    [Fact]
    public async Task PriceWithAnImportedLiteLlmCatalog()
    {
        // --catalog accepts a LiteLLM file directly; the broken entry is loaded as unpriced, never priced with garbage.
        var services = new CliServices
        {
            CalculatorFactory = CliDefaults.CreateCalculator,
            Time = TimeProvider.System,
        };
        string input = string.Join("\n",
            """{"provider":"openai","model":"gpt-4o","timestamp":"2026-06-01T00:00:00Z","usage":{"input_tokens":1000000}}""",
            """{"provider":"openai","model":"broken/per-million-typed-as-per-token","timestamp":"2026-06-01T00:00:00Z","usage":{"input_tokens":1000}}""");

        (int exit, string[] lines, _) = await CliRunner.RunAsync(input, services, "price", "--catalog", _liteLlm);

        Assert.Equal(0, exit);
        Assert.Equal("2.5", JsonDocument.Parse(lines[0]).RootElement.GetProperty("cost_usd").GetString());
        Assert.False(JsonDocument.Parse(lines[1]).RootElement.GetProperty("priced").GetBoolean());
    }

    [Fact]
    public async Task Publish_AFileWithErrors_IsRefusedLocallyWithTheFindings_AndNothingIsSent()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;

        (int exit, _, string error) = await CliRunner.RunAsync("", Real(), "catalog", "publish", _liteLlm, "--url", $"http://127.0.0.1:{port}", "--key", "k");

        Assert.Equal(1, exit);
        Assert.Contains("[per-million-as-per-token]", error, StringComparison.Ordinal);
        Assert.Contains("not published", error, StringComparison.Ordinal);
        Assert.False(listener.Pending()); // the service was never contacted
    }

    [Fact]
    public async Task Publish_ACleanFile_PostsItToTheServiceWithTheKey()
    {
        string file = Path.Combine(_directory, "clean.json");
        await File.WriteAllTextAsync(file, """{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 0.000005, "output_cost_per_token": 0.00002}}""");
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        Task<string> served = ServeOnceAsync(listener, """{"published":{"version":"v1"}}""");

        (int exit, string[] lines, _) = await CliRunner.RunAsync("", Real(), "catalog", "publish", file, "--url", $"http://127.0.0.1:{port}/api/usage", "--key", "secret-k");

        string request = await served;
        Assert.Equal(0, exit);
        Assert.StartsWith("POST /api/pricing/catalogs ", request, StringComparison.Ordinal);
        Assert.Contains("Authorization: Bearer secret-k", request, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith(await File.ReadAllTextAsync(file), request, StringComparison.Ordinal);
        Assert.Equal("v1", JsonDocument.Parse(lines[0]).RootElement.GetProperty("published").GetProperty("version").GetString());
    }

    /// <summary>Answers one HTTP/1.1 request with 201 and <paramref name="body"/>; returns the request as text.</summary>
    private static async Task<string> ServeOnceAsync(System.Net.Sockets.TcpListener listener, string body)
    {
        using System.Net.Sockets.TcpClient client = await listener.AcceptTcpClientAsync();
        using System.Net.Sockets.NetworkStream stream = client.GetStream();
        var received = new List<byte>();
        byte[] chunk = new byte[8192];
        int headerEnd = -1;
        int contentLength = 0;
        while (headerEnd < 0 || received.Count < headerEnd + 4 + contentLength)
        {
            int read = await stream.ReadAsync(chunk);
            if (read == 0)
            {
                break;
            }

            received.AddRange(chunk.AsSpan(0, read).ToArray());
            string text = System.Text.Encoding.UTF8.GetString(received.ToArray());
            if (headerEnd < 0 && (headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
            {
                System.Text.RegularExpressions.Match length = System.Text.RegularExpressions.Regex.Match(text[..headerEnd], "Content-Length: (\\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
                contentLength = length.Success ? int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
            }
        }

        byte[] answer = System.Text.Encoding.UTF8.GetBytes($"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {System.Text.Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}");
        await stream.WriteAsync(answer);
        return System.Text.Encoding.UTF8.GetString(received.ToArray());
    }
}
