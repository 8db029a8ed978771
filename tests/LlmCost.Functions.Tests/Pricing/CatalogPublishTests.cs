using System.Diagnostics;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace LlmCost.Functions.Tests.Pricing;

/// <summary>
/// Catalog versions without a redeploy, on three running instances of the app sharing one storage account: a
/// catalog published through one instance is in force on all three within the poll interval (1 s here) and
/// recorded on every event; a file with error-level findings is refused with them and changes nothing; a bad
/// file planted behind the API's back is refused by every instance, which keep the good one.
/// </summary>
public sealed class CatalogPublishTests(ITestOutputHelper output) : IAsyncLifetime
{
    // gpt-4o at 5 / 20 USD per million (list price in the built-in catalog: 2.50 / 10).
    private const string NewPrices = """
        {"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 0.000005, "output_cost_per_token": 0.00002}}
        """;

    // A per-token price typed as per-million-like garbage: negative, an error-level finding.
    private const string Broken = """
        {"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": -0.000005, "output_cost_per_token": 0.00002}}
        """;

    private readonly List<LlmCostTestHost> _hosts = [];

    public async Task InitializeAsync()
    {
        string prefix = "t" + Guid.NewGuid().ToString("N")[..12];
        for (int i = 0; i < 3; i++)
        {
            _hosts.Add(await LlmCostTestHost.StartAsync(o =>
            {
                o.Prefix = prefix;
                o.Settings["LlmCost:Pricing:CatalogPollSeconds"] = "1";
            }));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (LlmCostTestHost host in _hosts)
        {
            await host.DisposeAsync();
        }
    }

    private static async Task<(int Status, JsonElement Body)> PublishAsync(LlmCostTestHost host, string file)
    {
        using var content = new StringContent(file, Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await host.Client.PostAsync(new Uri("api/pricing/catalogs", UriKind.Relative), content);
        return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static object Call(string id) => new
    {
        event_id = id, tenant_id = "acme", user_id = "u1", provider = "openai", model = "gpt-4o",
        usage = new { input_tokens = 1000, output_tokens = 500 },
    };

    private async Task<TimeSpan> WaitForVersionEverywhereAsync(string version)
    {
        var clock = Stopwatch.StartNew();
        foreach (LlmCostTestHost host in _hosts)
        {
            while (true)
            {
                (_, JsonElement catalogs) = await host.Client.GetJsonAsync("api/pricing/catalogs");
                if (catalogs.GetProperty("in_force").GetString() == version)
                {
                    break;
                }

                // Generous for a loaded machine; the interval is 1 s.
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{host.BaseAddress} still prices with {catalogs.GetProperty("in_force")}");
                await Task.Delay(100);
            }
        }

        return clock.Elapsed;
    }

    [Fact]
    public async Task APublishedCatalogIsInForceOnEveryInstanceAndABrokenOneIsRefused()
    {
        foreach (LlmCostTestHost host in _hosts)
        {
            (_, JsonElement before) = await host.Client.PostAsync("api/price", Call("p0"));
            Assert.Equal(0.0075m, before.Money("cost_usd"));
            Assert.StartsWith("builtin:", before.GetProperty("catalog_version").GetString(), StringComparison.Ordinal);
        }

        (int status, JsonElement published) = await PublishAsync(_hosts[0], NewPrices);
        Assert.Equal(201, status);
        string version = published.GetProperty("published").GetProperty("version").GetString()!;
        Assert.Equal("litellm", published.GetProperty("published").GetProperty("format").GetString());

        TimeSpan everywhere = await WaitForVersionEverywhereAsync(version);
        output.WriteLine($"catalog {version} in force on 3 instances after {everywhere.TotalSeconds:0.0} s (poll interval 1 s)");

        for (int i = 0; i < _hosts.Count; i++)
        {
            (int recorded, JsonElement e) = await _hosts[i].Client.PostAsync("api/usage", Call($"e{i}"));
            Assert.Equal(200, recorded);
            Assert.Equal(0.015m, e.Money("cost_usd")); // 1,000 × 5 + 500 × 20 per million
            Assert.Equal(version, e.GetProperty("catalog_version").GetString());
        }

        // A file with an error-level finding is refused with the validator's findings; nothing moves.
        (int refused, JsonElement problem) = await PublishAsync(_hosts[1], Broken);
        Assert.Equal(400, refused);
        Assert.Contains(problem.GetProperty("findings").EnumerateArray(), f => f.GetProperty("code").GetString() == "negative-price" && f.GetProperty("severity").GetString() == "error");
        Assert.Contains("negative-price", problem.GetProperty("errors").GetProperty("body")[0].GetString(), StringComparison.Ordinal);
        (int notJson, _) = await PublishAsync(_hosts[1], "[{\"id\": 5}]");
        Assert.Equal(400, notJson);

        // A bad file planted directly in storage (bypassing the API's validation) is refused by every instance.
        byte[] bad = Encoding.UTF8.GetBytes(Broken);
        (_, string sha) = CatalogPublisher.Validate(bad, "test");
        var planted = new CatalogPointer($"20990101T000000Z-{sha[..12]}", sha, DateTimeOffset.UtcNow, "litellm", 1, "test");
        await _hosts[2].Services.GetRequiredService<ICatalogStore>().PublishAsync(planted, bad);
        var clock = Stopwatch.StartNew();
        foreach (LlmCostTestHost host in _hosts)
        {
            JsonElement catalogs;
            do
            {
                await Task.Delay(100);
                (_, catalogs) = await host.Client.GetJsonAsync("api/pricing/catalogs");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the planted version was never looked at");
            }
            while (catalogs.GetProperty("refused").GetString() != planted.Version);

            Assert.Equal(version, catalogs.GetProperty("in_force").GetString());
            Assert.Contains("negative-price", catalogs.GetProperty("refused_reason").GetString(), StringComparison.Ordinal);
            (_, JsonElement quote) = await host.Client.PostAsync("api/price", Call("p1"));
            Assert.Equal(0.015m, quote.Money("cost_usd"));
        }

        (_, JsonElement audit) = await _hosts[0].Client.GetJsonAsync("api/audit");
        Assert.Contains(audit.GetProperty("entries").EnumerateArray(), e => e.GetProperty("action").GetString() == "catalog.publish" && e.GetProperty("target_id").GetString() == version);
    }
}
