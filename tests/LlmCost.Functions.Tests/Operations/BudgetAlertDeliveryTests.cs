using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Storage;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Operations;

/// <summary>Budget threshold alerts, recorded by the budgets module with the spend, delivered by the alert pipeline.</summary>
public sealed class BudgetAlertDeliveryTests
{
    [Fact]
    public async Task Crossed_budget_thresholds_reach_a_signed_webhook_once_each()
    {
        const string secret = "budget-hook-secret-0123456789";
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 10, 0, 0, TimeSpan.Zero));
        await using var host = await LlmCostTestHost.StartAsync(o => o.Time = time);
        await using var receiver = await WebhookReceiver.StartAsync();

        using (var budget = await host.Client.PostAsJsonAsync("api/budgets", new
        {
            tenant_id = "acme", scope = "user", scope_id = "alice", amount_usd = "0.01", period = "daily", mode = "soft", thresholds = new[] { "50", "100" },
        }))
        {
            Assert.True(budget.StatusCode == HttpStatusCode.Created, await budget.Content.ReadAsStringAsync());
        }

        using (var sub = await host.Client.PostAsJsonAsync("api/alerts/subscriptions", new
        {
            tenant_id = "acme", channel = "webhook", url = receiver.Url.ToString(), secret, kinds = new[] { "budget_threshold" },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, sub.StatusCode);
        }

        // gpt-4o: 10,000 input tokens = $0.025, 2.5x the daily budget: both thresholds cross in one event.
        using (var usage = await host.Client.PostAsJsonAsync("api/usage", new
        {
            tenant_id = "acme", user_id = "alice", provider = "openai", model = "gpt-4o", timestamp = time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
            usage = new { input_tokens = 10_000, output_tokens = 0 },
        }))
        {
            Assert.True(usage.StatusCode == HttpStatusCode.OK, await usage.Content.ReadAsStringAsync());
        }

        // Budgets hear about usage from the projector, after the answer (the function host waits for it likewise).
        await host.Services.GetRequiredService<LlmCost.Storage.Recording.UsageProjector>().DrainAsync();
        var functions = host.Services.GetServices<IBackgroundFunction>().ToDictionary(f => f.Definition.Name);
        await functions["OpsAlertDispatch"].InvokeAsync(new FunctionInvocation("OpsAlertDispatch", "1"));
        await functions["OpsAlertDispatch"].InvokeAsync(new FunctionInvocation("OpsAlertDispatch", "2")); // already dispatched: nothing more

        var queue = host.Services.GetRequiredService<LlmCostStorage>().Queue(OperationsStorage.AlertQueue);
        var messages = 0;
        while ((await queue.ReceiveMessageAsync()).Value is { } message)
        {
            await functions["OpsAlertFanOut"].InvokeAsync(new FunctionInvocation("OpsAlertFanOut", "f", message.Body.ToString(), message.DequeueCount));
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
            messages++;
        }

        var thresholds = new List<string>();
        foreach (var request in receiver.Requests)
        {
            var timestamp = request.Headers["X-LlmCost-Timestamp"];
            var expected = "sha256=" + Convert.ToHexStringLower(
                HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), (byte[])[.. Encoding.UTF8.GetBytes(timestamp + "."), .. request.Body]));
            Assert.Equal(expected, request.Headers["X-LlmCost-Signature"]);
            using var body = JsonDocument.Parse(request.Body);
            Assert.Equal("budget_threshold", body.RootElement.GetProperty("kind").GetString());
            Assert.Equal("alice", body.RootElement.GetProperty("scope_id").GetString());
            thresholds.Add(body.RootElement.GetProperty("threshold_percent").GetString()!);
        }

        Assert.Equal(["100", "50"], thresholds.Order(StringComparer.Ordinal));
        Assert.True(messages >= 2);
        using var feed = JsonDocument.Parse(await host.Client.GetStringAsync("api/alerts?tenant_id=acme"));
        Assert.Equal(2, feed.RootElement.GetProperty("alerts").EnumerateArray().Count(a => a.GetProperty("kind").GetString() == "budget_threshold" && a.GetProperty("status").GetString() == "delivered"));
    }
}
