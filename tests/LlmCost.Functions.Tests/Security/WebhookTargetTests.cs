using System.Net;
using LlmCost.Core.Alerts;
using LlmCost.Functions.Apis.Operations;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Functions.Tests.Operations;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Security;

/// <summary>
/// Alert webhooks must not become a way into the service's own network: internal targets are refused when the
/// subscription is made and again when connecting (after DNS resolution), and redirects are not followed.
/// </summary>
public sealed class WebhookTargetTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 16, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.8.9.10", true)]
    [InlineData("10.1.2.3", true)]
    [InlineData("172.16.0.1", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("172.32.0.1", false)]
    [InlineData("192.168.1.1", true)]
    [InlineData("169.254.169.254", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("224.0.0.1", true)]
    [InlineData("::1", true)]
    [InlineData("::", true)]
    [InlineData("fe80::1", true)]
    [InlineData("fd00::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("::ffff:10.0.0.1", true)]
    [InlineData("64:ff9b::a9fe:a9fe", true)]
    [InlineData("8.8.8.8", false)]
    [InlineData("52.1.2.3", false)]
    [InlineData("2606:4700::1111", false)]
    public void InternalAddressesAreRecognised(string address, bool isInternal) =>
        Assert.Equal(isInternal, WebhookTargets.IsInternal(IPAddress.Parse(address)));

    [Fact]
    public async Task WithTheSettingOffInternalTargetsAreRefusedAtSubscriptionAndAtDelivery()
    {
        await using var host = await LlmCostTestHost.StartAsync(o =>
        {
            o.Time = new FakeTimeProvider(Now);
            o.Settings["LlmCost:Alerts:AllowPrivateNetworkTargets"] = "false";
        });
        await using var receiver = await WebhookReceiver.StartAsync();
        foreach (var url in new[] { receiver.Url.ToString(), "http://localhost/hook", "http://[::1]:80/x", "https://169.254.169.254/latest/meta-data", "http://10.0.0.5/x" })
        {
            var (status, problem) = await host.Client.PostAsync("api/alerts/subscriptions", new { tenant_id = "acme", channel = "slack", url });
            Assert.True(status == 400, $"{url}: {status} {problem}");
            Assert.True(problem.GetProperty("errors").TryGetProperty("url", out _), problem.ToString());
        }

        // A name that only DNS turns into loopback ("localhost" via the hosts file), stored past the API's check:
        // refused when connecting, and the receiver hears nothing.
        await using var ops = await OpsTestServices.StartAsync(Now, new() { ["LlmCost:Alerts:AllowPrivateNetworkTargets"] = "false" });
        var named = new UriBuilder(receiver.Url) { Host = "localhost" }.Uri;
        await ops.Get<ISubscriptionStore>().AddAsync(new AlertSubscription
        {
            SubscriptionId = "sub_dns", TenantId = "t1", Channel = AlertChannels.Webhook, Url = named.ToString(), Kinds = [], CreatedAt = Now,
        });
        var sent = await ops.Get<IAlertChannelSender>().SendAsync(
            (await ops.Get<ISubscriptionStore>().ListAsync("t1")).Single(),
            new Alert { AlertId = "a1", Kind = AlertKinds.CostAnomaly, TenantId = "t1", Scope = "tenant", ScopeId = "t1", CreatedAt = Now });
        Assert.False(sent.Delivered);
        Assert.Contains("refused", sent.Error, StringComparison.Ordinal);
        Assert.Empty(receiver.Requests);
    }

    [Fact]
    public async Task ARedirectIsNotFollowed()
    {
        await using var ops = await OpsTestServices.StartAsync(Now);
        await using var first = await WebhookReceiver.StartAsync();
        await using var second = await WebhookReceiver.StartAsync();
        first.RedirectTo = second.Url;
        var subscription = new AlertSubscription
        {
            SubscriptionId = "sub_redirect", TenantId = "t1", Channel = AlertChannels.Webhook, Url = first.Url.ToString(), Kinds = [], CreatedAt = Now,
        };
        var sent = await ops.Get<IAlertChannelSender>().SendAsync(subscription,
            new Alert { AlertId = "a2", Kind = AlertKinds.CostAnomaly, TenantId = "t1", Scope = "tenant", ScopeId = "t1", CreatedAt = Now });
        Assert.False(sent.Delivered);
        Assert.Equal("HTTP 307", sent.Error);
        Assert.Single(first.Requests);
        Assert.Empty(second.Requests);
    }
}
