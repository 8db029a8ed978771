using LlmCost.Core.Alerts;
using LlmCost.Core.Reports;
using LlmCost.Core.Rollups;
using Microsoft.Extensions.Time.Testing;
using Moq;
using LlmCost.Tests.Shared;

namespace LlmCost.Core.Tests.Operations;

/// <summary>The operations use cases behind the endpoints: input checks, id minting, ordered reads.</summary>
public class OperationsUseCaseTests
{
    [Fact]
    public void A_rule_draft_names_every_bad_field_at_once()
    {
        var result = new AlertRuleDraft("no-such-kind", "galaxy", null, null, 44641).Validate();
        Assert.False(result.IsValid);
        Assert.Equal(new[] { "cooldown_minutes", "kind", "scope" }, result.Errors.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("scope_id needs a scope", new AlertRuleDraft(AlertKinds.CostAnomaly, null, "red", null, null).Validate().Errors["scope_id"].Single());
        Assert.True(new AlertRuleDraft(AlertKinds.CostAnomaly, "team", "red", false, 44640).Validate().IsValid);
    }

    [Fact]
    public async Task Creating_a_rule_mints_an_id_and_updating_keeps_its_creation_time()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        var stored = new Dictionary<string, AlertRule>();
        var rules = new Mock<IAlertRuleStore>();
        rules.Setup(r => r.UpsertAsync(It.IsAny<AlertRule>(), It.IsAny<CancellationToken>())).Callback<AlertRule, CancellationToken>((r, _) => stored[r.RuleId] = r).Returns(Task.CompletedTask);
        rules.Setup(r => r.GetAsync("t1", It.IsAny<string>(), It.IsAny<CancellationToken>())).ReturnsAsync((string _, string id, CancellationToken _) => stored.GetValueOrDefault(id));
        var admin = new AlertAdminService(rules.Object, Mock.Of<ISubscriptionStore>(), time);

        var created = await admin.CreateRuleAsync("t1", new AlertRuleDraft(AlertKinds.CostAnomaly, null, null, null, null));
        Assert.StartsWith("rule_", created.RuleId, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromMinutes(60), created.Cooldown);
        Assert.True(created.Enabled);

        time.Advance(TimeSpan.FromDays(1));
        var updated = await admin.UpdateRuleAsync("t1", created.RuleId, new AlertRuleDraft(AlertKinds.TokenSpike, "user", "u1", false, 5));
        Assert.NotNull(updated);
        Assert.Equal(created.CreatedAt, updated.CreatedAt);
        Assert.Equal(AlertKinds.TokenSpike, stored[created.RuleId].Kind);
        Assert.Null(await admin.UpdateRuleAsync("t1", "rule_missing", new AlertRuleDraft(AlertKinds.TokenSpike, null, null, null, null)));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.CreateRuleAsync("t1", new AlertRuleDraft("bogus", null, null, null, null)));
    }

    [Fact]
    public async Task A_subscription_gets_an_id_and_keeps_only_its_channels_target()
    {
        AlertSubscription? added = null;
        var subscriptions = new Mock<ISubscriptionStore>();
        subscriptions.Setup(s => s.AddAsync(It.IsAny<AlertSubscription>(), It.IsAny<CancellationToken>())).Callback<AlertSubscription, CancellationToken>((s, _) => added = s).Returns(Task.CompletedTask);
        var admin = new AlertAdminService(Mock.Of<IAlertRuleStore>(), subscriptions.Object, new FakeTimeProvider());

        var subscription = await admin.CreateSubscriptionAsync("t1", new SubscriptionRequest("t1", AlertChannels.Email, "https://ignored.example", " ops@example.com ", "", [AlertKinds.CostAnomaly, AlertKinds.CostAnomaly]));
        Assert.Same(added, subscription);
        Assert.StartsWith("sub_", subscription.SubscriptionId, StringComparison.Ordinal);
        Assert.Null(subscription.Url);
        Assert.Equal("ops@example.com", subscription.Email);
        Assert.Null(subscription.Secret);
        Assert.Equal(new[] { AlertKinds.CostAnomaly }, subscription.Kinds);
    }

    [Theory]
    [InlineData("week", "2026-03-01", "period")]
    [InlineData("day", "2026-3-1", "date")]
    [InlineData("month", "1999-12-31", "date")]
    public void A_report_query_names_its_bad_field(string period, string date, string field)
    {
        var query = ReportQuery.Parse(period, date);
        Assert.Equal(new[] { field }, query.Errors.Keys);
    }

    [Fact]
    public void A_report_query_reads_day_and_month()
    {
        Assert.Equal(new ReportRequest("t1", ReportPeriod.Month, new DateOnly(2026, 3, 9)), ReportQuery.Parse("month", "2026-03-09").Value!.For("t1"));
        Assert.Equal("day", ReportQuery.Parse("day", "2026-03-09").Value!.PeriodName);
    }

    [Theory]
    [InlineData("week", "2026-03-01", "2026-03-02", null, "granularity")]
    [InlineData("day", "2026-03-02", "2026-03-01", null, "to")]
    [InlineData("hour", "2026-01-01", "2026-03-01", null, "to")]
    [InlineData("day", "2026-03-01", "2026-03-02", "planet", "dimension")]
    [InlineData("day", "nope", "2026-03-02", null, "from")]
    public void A_rollup_query_names_its_bad_field(string granularity, string from, string to, string? dimension, string field)
    {
        Assert.Contains(field, RollupQuery.Parse(granularity, from, to, dimension).Errors.Keys);
    }

    [Fact]
    public async Task Rollup_rows_come_back_in_period_dimension_key_order_for_whole_days()
    {
        var store = new InMemoryRollupStore();
        var day = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
        RollupRow Row(DateTimeOffset start, string dimension, string key) => new()
        {
            TenantId = "t1", Granularity = RollupGranularity.Day, PeriodStart = start, Dimension = dimension, Key = key,
        };
        await store.ReplacePeriodAsync("t1", RollupGranularity.Day, day.AddDays(1), [Row(day.AddDays(1), RollupDimensions.User, "b"), Row(day.AddDays(1), RollupDimensions.Tenant, "t1")]);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Day, day, [Row(day, RollupDimensions.User, "z"), Row(day, RollupDimensions.User, "a")]);
        await store.ReplacePeriodAsync("t1", RollupGranularity.Day, day.AddDays(2), [Row(day.AddDays(2), RollupDimensions.User, "late")]);

        var rows = await new RollupQueryService(store).ReadAsync("t1", RollupQuery.Parse("day", "2026-03-01", "2026-03-02", null).Value!);
        Assert.Equal(new[] { "user/a", "user/z", "tenant/t1", "user/b" }, rows.Select(r => $"{r.Dimension}/{r.Key}"));
    }

    [Fact]
    public async Task The_feed_answers_an_alert_outside_the_callers_scopes_as_a_missing_one()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        AlertEntry Entry(string id, string scopeId) => new()
        {
            Alert = new Alert { AlertId = id, Kind = AlertKinds.CostAnomaly, TenantId = "t1", Scope = "user", ScopeId = scopeId, CreatedAt = time.GetUtcNow() },
            Status = "pending",
        };
        var store = new Mock<IAlertStore>();
        store.Setup(s => s.GetAsync("t1", "mine", It.IsAny<CancellationToken>())).ReturnsAsync(Entry("mine", "u1"));
        store.Setup(s => s.GetAsync("t1", "theirs", It.IsAny<CancellationToken>())).ReturnsAsync(Entry("theirs", "u2"));
        store.Setup(s => s.ListAsync("t1", true, 10, It.IsAny<CancellationToken>())).ReturnsAsync([Entry("mine", "u1"), Entry("theirs", "u2")]);
        var deliveries = new Mock<IDeliveryLog>();
        deliveries.Setup(d => d.ListAsync("t1", "mine", It.IsAny<CancellationToken>())).ReturnsAsync([]);
        var feed = new AlertFeed(store.Object, deliveries.Object, time);
        Func<Alert, bool> onlyU1 = a => a.ScopeId == "u1";

        Assert.Equal(new[] { "mine" }, (await feed.ListAsync("t1", true, 10, onlyU1)).Select(e => e.Alert.AlertId));
        Assert.Equal("mine", (await feed.GetAsync("t1", "mine", onlyU1))!.Value.Entry.Alert.AlertId);
        Assert.Null(await feed.GetAsync("t1", "theirs", onlyU1));
        Assert.False(await feed.MarkReadAsync("t1", "theirs", onlyU1));
        Assert.True(await feed.MarkReadAsync("t1", "mine", onlyU1));
        store.Verify(s => s.MarkReadAsync("t1", "mine", time.GetUtcNow(), It.IsAny<CancellationToken>()), Times.Once);
        store.Verify(s => s.MarkReadAsync("t1", "theirs", It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()), Times.Never);
    }
}
