using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Alerts;
using LlmCost.Functions.Apis.Operations;
using LlmCost.Functions.Hosting;
using MimeKit;

namespace LlmCost.Functions.Tests.Operations;

/// <summary>Alert fan-out end to end on real Azurite (feed, queue, delivery log) to a REAL webhook receiver and a REAL SMTP server.</summary>
public sealed class AlertDeliveryTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private const string Secret = "whsec-0123456789abcdef";

    private static Alert NewAlert(string kind = AlertKinds.BudgetThreshold) => new()
    {
        AlertId = AlertIds.For(kind, "t1", Guid.NewGuid().ToString("N")),
        Kind = kind,
        TenantId = "t1",
        Scope = "user",
        ScopeId = "alice",
        BudgetId = "b1",
        ThresholdPercent = 80m,
        CreatedAt = Now,
        Message = "80 % of budget b1 used",
        Details = new Dictionary<string, string> { ["spent_usd"] = "80.00" },
    };

    private static async Task<AlertSubscription> SubscribeAsync(OpsTestServices ops, string channel, Uri? url = null, string? email = null, string? secret = null, string[]? kinds = null)
    {
        var subscription = new AlertSubscription
        {
            SubscriptionId = "sub_" + Guid.NewGuid().ToString("N")[..8],
            TenantId = "t1",
            Channel = channel,
            Url = url?.ToString(),
            Email = email,
            Secret = secret,
            Kinds = kinds ?? [],
            CreatedAt = Now,
        };
        await ops.Get<ISubscriptionStore>().AddAsync(subscription);
        return subscription;
    }

    /// <summary>Publishes, takes the queue message and runs the queue function on it like the host would.</summary>
    private static async Task<Exception?> DeliverOnceAsync(OpsTestServices ops, string message, long dequeueCount)
    {
        var function = ops.Get<AlertFanOutFunction>();
        return await Record.ExceptionAsync(() => function.InvokeAsync(new FunctionInvocation(function.Definition.Name, Guid.NewGuid().ToString(), message, dequeueCount)));
    }

    [Fact]
    public async Task Webhook_is_signed_delivered_once_and_not_redelivered()
    {
        await using var ops = await OpsTestServices.StartAsync(Now);
        await using var receiver = await WebhookReceiver.StartAsync();
        await SubscribeAsync(ops, AlertChannels.Webhook, receiver.Url, secret: Secret);
        // A subscription to other kinds only must get nothing.
        await SubscribeAsync(ops, AlertChannels.Webhook, receiver.Url, secret: Secret, kinds: [AlertKinds.CostAnomaly]);
        var alert = NewAlert();

        await ops.Get<IAlertPublisher>().PublishAsync([alert]);
        await ops.Get<IAlertPublisher>().PublishAsync([alert]); // re-raised: same id, nothing new queued
        var message = await ops.ReceiveAlertMessageAsync();
        Assert.NotNull(message);
        Assert.Null(await ops.ReceiveAlertMessageAsync());

        Assert.Null(await DeliverOnceAsync(ops, message.Value.Text, 1));
        Assert.Null(await DeliverOnceAsync(ops, message.Value.Text, 2)); // the queue redelivers: no second POST

        var request = Assert.Single(receiver.Requests);
        var timestamp = request.Headers["X-LlmCost-Timestamp"];
        Assert.Equal(Now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), timestamp);
        // Independent check of the signature: HMAC-SHA256 over "{timestamp}.{body}" with the secret.
        var expected = "sha256=" + Convert.ToHexStringLower(
            HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), (byte[])[.. Encoding.UTF8.GetBytes(timestamp + "."), .. request.Body]));
        Assert.Equal(expected, request.Headers["X-LlmCost-Signature"]);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal(alert.AlertId, body.RootElement.GetProperty("alert_id").GetString());
        Assert.Equal("budget_threshold", body.RootElement.GetProperty("kind").GetString());
        Assert.Equal("t1", body.RootElement.GetProperty("tenant_id").GetString());
        Assert.Equal("user", body.RootElement.GetProperty("scope").GetString());
        Assert.Equal("alice", body.RootElement.GetProperty("scope_id").GetString());
        Assert.Equal("80", body.RootElement.GetProperty("threshold_percent").GetString());
        Assert.Equal("2026-11-23T08:00:00.000Z", body.RootElement.GetProperty("created_at").GetString());

        var entry = await ops.Get<IAlertStore>().GetAsync("t1", alert.AlertId);
        Assert.Equal(AlertStatuses.Delivered, entry!.Status);
    }

    [Fact]
    public async Task Failing_receiver_is_retried_then_visible_as_failed_and_only_the_failed_subscription_is_resent()
    {
        await using var ops = await OpsTestServices.StartAsync(Now);
        await using var good = await WebhookReceiver.StartAsync();
        await using var bad = await WebhookReceiver.StartAsync();
        bad.AlwaysStatus = 503;
        var goodSub = await SubscribeAsync(ops, AlertChannels.Slack, good.Url);
        var badSub = await SubscribeAsync(ops, AlertChannels.Webhook, bad.Url, secret: Secret);
        var alert = NewAlert(AlertKinds.CostAnomaly);
        await ops.Get<IAlertPublisher>().PublishAsync([alert]);
        var message = (await ops.ReceiveAlertMessageAsync())!.Value.Text;

        for (var attempt = 1; attempt <= 5; attempt++)
        {
            var error = await DeliverOnceAsync(ops, message, attempt);
            Assert.IsType<AlertDeliveryException>(error);
        }

        // Slack got it once; the failing webhook got 2 in-process tries per attempt (RetryAttempts = 1) × 5 attempts.
        Assert.Single(good.Requests);
        Assert.Contains("\"text\"", Encoding.UTF8.GetString(good.Requests.Single().Body), StringComparison.Ordinal);
        Assert.Equal(10, bad.Requests.Count);
        var entry = await ops.Get<IAlertStore>().GetAsync("t1", alert.AlertId);
        Assert.Equal(AlertStatuses.Failed, entry!.Status);
        Assert.Contains("HTTP 503", entry.StatusReason, StringComparison.Ordinal);
        var deliveries = await ops.Get<IDeliveryLog>().ListAsync("t1", alert.AlertId);
        Assert.Equal(DeliveryStatuses.Delivered, deliveries.Single(d => d.SubscriptionId == goodSub.SubscriptionId).Status);
        var failed = deliveries.Single(d => d.SubscriptionId == badSub.SubscriptionId);
        Assert.Equal((DeliveryStatuses.Failed, 5), (failed.Status, failed.Attempts));

        // The receiver comes back; replaying the poisoned message delivers to it once, and never again to Slack.
        bad.AlwaysStatus = null;
        Assert.Null(await DeliverOnceAsync(ops, message, 1));
        Assert.Equal(11, bad.Requests.Count);
        Assert.Single(good.Requests);
        Assert.Equal(AlertStatuses.Delivered, (await ops.Get<IAlertStore>().GetAsync("t1", alert.AlertId))!.Status);
    }

    [Fact]
    public async Task An_alert_stored_but_never_queued_is_queued_by_the_dispatch_sweep()
    {
        await using var ops = await OpsTestServices.StartAsync(Now);
        var alert = NewAlert();
        // The publisher died between storing the alert and enqueueing it.
        Assert.True(await ops.Get<IAlertStore>().AddIfAbsentAsync(alert));
        Assert.Null(await ops.ReceiveAlertMessageAsync());

        var sweep = new AlertDispatchFunction(ops.Services, Microsoft.Extensions.Logging.Abstractions.NullLogger<AlertDispatchFunction>.Instance);
        await sweep.InvokeAsync(new FunctionInvocation(sweep.Definition.Name, "i"));
        await sweep.InvokeAsync(new FunctionInvocation(sweep.Definition.Name, "i")); // nothing left the second time

        var message = await ops.ReceiveAlertMessageAsync();
        Assert.Contains(alert.AlertId, message!.Value.Text, StringComparison.Ordinal);
        Assert.Null(await ops.ReceiveAlertMessageAsync());
        Assert.Equal(AlertStatuses.Queued, (await ops.Get<IAlertStore>().GetAsync("t1", alert.AlertId))!.Status);
    }

    [Fact]
    public async Task Cooldown_rule_suppresses_a_second_alert_for_the_same_scope()
    {
        await using var ops = await OpsTestServices.StartAsync(Now);
        await using var receiver = await WebhookReceiver.StartAsync();
        await SubscribeAsync(ops, AlertChannels.Teams, receiver.Url);
        await ops.Get<IAlertRuleStore>().UpsertAsync(new AlertRule
        {
            RuleId = "r1", TenantId = "t1", Kind = AlertKinds.CostAnomaly, Cooldown = TimeSpan.FromHours(1), CreatedAt = Now,
        });
        var first = NewAlert(AlertKinds.CostAnomaly);
        var second = NewAlert(AlertKinds.CostAnomaly);
        await ops.Get<IAlertPublisher>().PublishAsync([first]);
        Assert.Null(await DeliverOnceAsync(ops, (await ops.ReceiveAlertMessageAsync())!.Value.Text, 1));
        ops.Time.Advance(TimeSpan.FromMinutes(30));
        await ops.Get<IAlertPublisher>().PublishAsync([second]);
        Assert.Null(await DeliverOnceAsync(ops, (await ops.ReceiveAlertMessageAsync())!.Value.Text, 1));

        Assert.Single(receiver.Requests);
        Assert.Contains("AdaptiveCard", Encoding.UTF8.GetString(receiver.Requests.Single().Body), StringComparison.Ordinal);
        var suppressed = await ops.Get<IAlertStore>().GetAsync("t1", second.AlertId);
        Assert.Equal(AlertStatuses.Suppressed, suppressed!.Status);
        Assert.Contains("cooling down", suppressed.StatusReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Email_reaches_a_real_smtp_server()
    {
        var smtp = Environment.GetEnvironmentVariable("LLMCOST_TEST_SMTP") is { Length: > 0 } s ? s
            : throw new InvalidOperationException("LLMCOST_TEST_SMTP is not set: run ./test.sh (scripts/test.d/smtp.sh starts the SMTP server) or source that hook yourself.");
        var folder = Environment.GetEnvironmentVariable("LLMCOST_TEST_SMTP_DIR")
            ?? throw new InvalidOperationException("LLMCOST_TEST_SMTP_DIR is not set (scripts/test.d/smtp.sh exports it).");
        var (host, port) = (smtp.Split(':')[0], smtp.Split(':')[1]);
        await using var ops = await OpsTestServices.StartAsync(Now, new Dictionary<string, string?>
        {
            ["LlmCost:Alerts:SmtpHost"] = host,
            ["LlmCost:Alerts:SmtpPort"] = port,
            ["LlmCost:Alerts:SmtpSecurity"] = "none",
            ["LlmCost:Alerts:From"] = "alerts@llmcost.test",
        });
        var subscription = await SubscribeAsync(ops, AlertChannels.Email, email: "finance@example.test");
        var alert = NewAlert();
        await ops.Get<IAlertPublisher>().PublishAsync([alert]);
        Assert.Null(await DeliverOnceAsync(ops, (await ops.ReceiveAlertMessageAsync())!.Value.Text, 1));

        // The sink writes each received message as one .eml file (atomically renamed); find ours by Message-Id.
        MimeMessage? received = null;
        for (var i = 0; i < 50 && received is null; i++)
        {
            foreach (var file in Directory.GetFiles(folder, "*.eml"))
            {
                var message = await MimeMessage.LoadAsync(file);
                if (message.MessageId == $"{alert.AlertId}.{subscription.SubscriptionId}@llmcost")
                {
                    received = message;
                }
            }

            if (received is null)
            {
                await Task.Delay(100);
            }
        }

        Assert.NotNull(received);
        Assert.Equal("finance@example.test", received.To.Mailboxes.Single().Address);
        Assert.Equal("alerts@llmcost.test", received.From.Mailboxes.Single().Address);
        Assert.StartsWith("[LlmCost] budget threshold", received.Subject, StringComparison.Ordinal);
        Assert.Contains(alert.AlertId, received.TextBody, StringComparison.Ordinal);
        Assert.Equal(AlertStatuses.Delivered, (await ops.Get<IAlertStore>().GetAsync("t1", alert.AlertId))!.Status);
    }
}
