using LlmCost.Core.Alerts;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Functions.Tests.Operations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace LlmCost.Functions.Tests.Security;

/// <summary>
/// A full flow with every log category at Trace into a capturing sink: keys created and used (and forged), webhook,
/// Slack and Teams deliveries (one receiver down), usage, budget authorisation with prompt text, GDPR export. No
/// secret, key or prompt may appear anywhere in what was logged.
/// </summary>
public sealed class SecretsInLogsTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset Now = new(2026, 3, 16, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task NoSecretKeyOrPromptReachesAnyLogAtAnyLevel()
    {
        var sink = new CapturingLoggerProvider();
        await using var host = await LlmCostTestHost.StartAsync(o =>
        {
            o.Time = new FakeTimeProvider(Now);
            o.Settings["Logging:LogLevel:Default"] = "Trace";
            o.Settings["Logging:LogLevel:Microsoft"] = "Trace";
            o.Settings["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace";
            o.Settings["Logging:LogLevel:System"] = "Trace";
            o.Settings["LlmCost:Alerts:RetryAttempts"] = "1";
            o.Settings["LlmCost:Alerts:RetryBaseDelay"] = "00:00:00.010";
            o.ConfigureServices = services => services.AddSingleton<ILoggerProvider>(sink);
        });
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var down = await WebhookReceiver.StartAsync();
        down.AlwaysStatus = 500;

        const string webhookSecret = "whsec-LOGTEST-7c1f4e2a9b";
        const string slackPath = "services/T0LOGTEST/B0LOGTEST/slackSecretLOGTEST9f8e7d";
        const string teamsPath = "webhookb2/teamsSecretLOGTEST3a2b1c/IncomingWebhook/x";
        const string downPath = "services/T1LOGTEST/B1LOGTEST/downSecretLOGTEST5d4c";
        const string prompt = "PROMPT-LOGTEST please summarise the secret merger plan";
        const string message = "MESSAGE-LOGTEST the board meets on friday";
        var ingestKey = await host.CreateKeyAsync("ingest", "acme");
        var readerKey = await host.CreateKeyAsync("reader", "acme", "alice");
        string[] secrets = [LlmCostTestHost.AdminKey, ingestKey, readerKey, ingestKey[^20..], readerKey[^20..], webhookSecret,
            "slackSecretLOGTEST", "teamsSecretLOGTEST", "downSecretLOGTEST", "PROMPT-LOGTEST", "MESSAGE-LOGTEST", "merger plan", "forgedLOGTEST"];

        foreach (var (channel, url, secret) in new[]
        {
            ("webhook", receiver.Url.ToString(), webhookSecret),
            ("slack", $"{receiver.Url}/{slackPath}", null),
            ("teams", $"{receiver.Url}/{teamsPath}", null),
            ("slack", $"{down.Url}/{downPath}", null),
        })
        {
            var (status, body) = await host.Client.PostAsync("api/alerts/subscriptions", new { tenant_id = "acme", channel, url, secret });
            Assert.True(status == 201, body.ToString());
        }

        using (var ingest = host.CreateClient(ingestKey))
        {
            var (authorize, _) = await ingest.PostAsync("api/budgets/authorize", new
            {
                user_id = "alice", provider = "openai", model = "gpt-4o", max_tokens = 100, prompt,
            });
            Assert.Equal(200, authorize);
            var (chat, _) = await ingest.PostAsync("api/budgets/authorize", new
            {
                user_id = "alice", provider = "openai", model = "gpt-4o", max_tokens = 100, messages = new[] { new { role = "user", content = message } },
            });
            Assert.Equal(200, chat);
            var (usage, _) = await ingest.PostAsync("api/usage", new
            {
                user_id = "alice", model = "gpt-4o", timestamp = "2026-03-16T11:00:00Z", usage = new { input_tokens = 10, output_tokens = 5 },
            });
            Assert.Equal(200, usage);
            // A malformed body carrying the prompt must not echo it into a log either.
            var (bad, _) = await ingest.PostRawAsync("api/budgets/authorize", $"{{\"user_id\":\"alice\",\"prompt\":\"{prompt}\",\"max_tokens\":\"lots\"}}");
            Assert.Equal(400, bad);
        }

        using (var reader = host.CreateClient(readerKey))
        {
            Assert.Equal(200, (await reader.GetJsonAsync("api/users/alice/usage")).Status);
        }

        using (var forged = host.CreateClient("llmc_0011223344556677_forgedLOGTEST-secret"))
        {
            Assert.Equal(401, (await forged.GetJsonAsync("api/users/alice/usage")).Status);
        }

        var alert = new Alert
        {
            AlertId = "log-test-alert", Kind = AlertKinds.CostAnomaly, TenantId = "acme", Scope = "user", ScopeId = "alice", CreatedAt = Now, Message = "spike",
        };
        await host.Services.GetRequiredService<IAlertPublisher>().PublishAsync([alert]);
        // Webhook, Slack and Teams are delivered; the fourth receiver is down, so the attempt fails (and is retried later).
        await Assert.ThrowsAsync<AlertDeliveryException>(() => host.Services.GetRequiredService<AlertFanOut>().HandleAsync("acme", alert.AlertId, 1));
        Assert.Equal(3, receiver.Requests.Count);
        Assert.NotEmpty(down.Requests);
        Assert.Equal(200, (await host.Client.GetJsonAsync("api/users/alice/export?tenant_id=acme")).Status);

        var entries = sink.Entries.ToList();
        output.WriteLine($"{entries.Count} log entries captured at Trace");
        Assert.True(entries.Count > 100, $"only {entries.Count} entries: logging at Trace is not reaching the sink");
        Assert.Contains(entries, e => e.Level == LogLevel.Trace);
        Assert.Contains(entries, e => e.Category.StartsWith("LlmCost", StringComparison.Ordinal));
        var leaks = entries.SelectMany(e => secrets.Where(s => e.Text.Contains(s, StringComparison.Ordinal)).Select(s => $"[{e.Level} {e.Category}] '{s}' in: {e.Text}")).ToList();
        Assert.True(leaks.Count == 0, string.Join('\n', leaks.Take(10)));
    }
}
