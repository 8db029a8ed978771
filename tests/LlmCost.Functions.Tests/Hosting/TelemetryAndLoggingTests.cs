using System.Net;
using System.Net.Http.Headers;
using System.Text;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Contract;
using LlmCost.Functions.Tests.Infrastructure;

namespace LlmCost.Functions.Tests.Hosting;

/// <summary>
/// The built app started the way ./run.sh starts it (from the repository root, no logging settings): it still reads
/// its appsettings.json, so request logging stays quiet; and it serves its metrics to an admin only.
/// </summary>
public sealed class TelemetryAndLoggingTests
{
    [Fact]
    public async Task StartedFromTheRepositoryRoot_TheAppReadsItsOwnSettings_AndLogsNoRequestAtInformation()
    {
        await using AppProcess app = await AppProcess.StartStandaloneAsync(Settings(), workingDirectory: TestEnvironment.RepoRoot);
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage health = await app.Client.GetAsync(new Uri("/api/health", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/usage") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", LlmCostTestHost.AdminKey);
        using HttpResponseMessage bad = await app.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        // Lifetime messages still come through (logging works), request logs do not (Microsoft.AspNetCore: Warning).
        Assert.Contains("Now listening on", app.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Request starting", app.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Request finished", app.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MetricsAreServedToAnAdminOnly_AndCarryTheIngestInstruments()
    {
        await using AppProcess app = await AppProcess.StartStandaloneAsync(Settings());
        using (HttpResponseMessage anonymous = await app.Client.GetAsync(new Uri("/metrics", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using var record = new HttpRequestMessage(HttpMethod.Post, "/api/usage")
        {
            Content = new StringContent("""{"event_id":"m-1","tenant_id":"acme","user_id":"mia","model":"gpt-4o","usage":{"input_tokens":10,"output_tokens":1}}""", Encoding.UTF8, "application/json"),
        };
        record.Headers.Authorization = new AuthenticationHeaderValue("Bearer", LlmCostTestHost.AdminKey);
        using (HttpResponseMessage recorded = await app.Client.SendAsync(record))
        {
            Assert.Equal(HttpStatusCode.OK, recorded.StatusCode);
        }

        // The exporter collects on scrape; the projector finishes right after the answer. Poll briefly.
        string text = string.Empty;
        for (DateTime deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            using var scrape = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            scrape.Headers.Authorization = new AuthenticationHeaderValue("Bearer", LlmCostTestHost.AdminKey);
            using HttpResponseMessage metrics = await app.Client.SendAsync(scrape);
            Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
            text = await metrics.Content.ReadAsStringAsync();
            if (text.Contains("llmcost_ingest_projection_events", StringComparison.Ordinal))
            {
                break;
            }
        }

        Assert.Contains("llmcost_ingest_events_total{", text, StringComparison.Ordinal);
        Assert.Contains("llmcost_ingest_transaction_events", text, StringComparison.Ordinal);
        Assert.Contains("llmcost_ingest_storage_entities_total{", text, StringComparison.Ordinal);
        Assert.Contains("llmcost_ingest_projection_events", text, StringComparison.Ordinal);
        Assert.Contains("llmcost_ingest_projection_lag", text, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ClientId=2b1f0c7e-0000-4000-8000-000000000001;Authorization=AAD", "2b1f0c7e-0000-4000-8000-000000000001")]
    [InlineData("Authorization=AAD", null)]
    [InlineData("ClientId=abc", null)]
    [InlineData(null, null)]
    public void TheManagedIdentityForAzureMonitorComesFromTheHostsAuthenticationString(string? setting, string? clientId) =>
        Assert.Equal(clientId, TelemetrySetup.ManagedIdentityClientId(setting));

    private static Dictionary<string, string> Settings() => new()
    {
        ["AzureWebJobsStorage"] = TestEnvironment.StorageConnectionString,
        ["LlmCost__Storage__Prefix"] = "t" + Guid.NewGuid().ToString("N")[..12],
        ["LLMCOST_ADMIN_KEY"] = LlmCostTestHost.AdminKey,
        ["LlmCost__Hosting__RunBackgroundFunctions"] = "false",
    };
}
