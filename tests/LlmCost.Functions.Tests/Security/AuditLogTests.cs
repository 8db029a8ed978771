using Azure.Data.Tables;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Security;

/// <summary>One audit log, read through <c>GET /api/audit</c>: keys, budgets, freezes, profiles and GDPR all appear in it.</summary>
public sealed class AuditLogTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 16, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task EveryAuditedChangeIsReadableInOneLog()
    {
        var time = new FakeTimeProvider(Now);
        await using var host = await LlmCostTestHost.StartAsync(o => o.Time = time);
        var (keyStatus, key) = await host.Client.PostAsync("api/keys", new { role = "reader", tenant_id = "acme", user_id = "alice" });
        Assert.Equal(201, keyStatus);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(204, (int)(await host.Client.DeleteAsync(new Uri($"api/keys/{key.GetProperty("key_id").GetString()}", UriKind.Relative))).StatusCode);
        var (adminStatus, _) = await host.Client.PostAsync("api/keys", new { role = "admin" });
        Assert.Equal(201, adminStatus);
        var (budgetStatus, budget) = await host.Client.PostAsync("api/budgets", new { tenant_id = "acme", scope = "team", scope_id = "red", amount_usd = "5", period = "daily", mode = "hard" });
        Assert.Equal(201, budgetStatus);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(204, (int)(await host.Client.DeleteAsync(new Uri($"api/budgets/{budget.GetProperty("budget_id").GetString()}", UriKind.Relative))).StatusCode);
        Assert.Equal(200, (await host.Client.PostAsync("api/budgets/freeze", new { tenant_id = "acme", scope = "user", scope_id = "bob" })).Status);
        Assert.Equal(200, (await host.Client.PostAsync("api/budgets/profiles", new { tenant_id = "acme", profile = "development" })).Status);
        Assert.Equal(200, (await host.Client.GetJsonAsync("api/users/alice/export?tenant_id=acme")).Status);
        Assert.Equal(200, (int)(await host.Client.DeleteAsync(new Uri("api/users/alice?tenant_id=acme", UriKind.Relative))).StatusCode);

        var (status, audit) = await host.Client.GetJsonAsync("api/audit?tenant_id=acme");
        Assert.Equal(200, status);
        var entries = audit.GetProperty("entries").EnumerateArray().ToList();
        var actions = entries.Select(e => e.GetProperty("action").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "key.create", "key.revoke", "budget.create", "budget.delete", "freeze", "gdpr.export", "gdpr.delete" }, actions);
        Assert.Contains(actions, a => a!.StartsWith("profile", StringComparison.Ordinal) || a == "budget.create");
        Assert.All(entries, e => Assert.StartsWith("key:", e.GetProperty("actor").GetString(), StringComparison.Ordinal));
        Assert.True(entries.Zip(entries.Skip(1)).All(p => p.First.GetProperty("at").GetDateTimeOffset() >= p.Second.GetProperty("at").GetDateTimeOffset()), "newest first");

        // One table: the budget module's pending lines were moved into it.
        var pending = TestStorage.Table(host, "budgets").Query<TableEntity>(filter: "Kind eq 'au'").ToList();
        Assert.Empty(pending);

        // Admin keys act on every tenant: their lines are service-wide.
        var (_, service) = await host.Client.GetJsonAsync("api/audit");
        Assert.Contains(service.GetProperty("entries").EnumerateArray(), e => e.GetProperty("action").GetString() == "key.create"
            && e.GetProperty("details").GetProperty("role").GetString() == "admin");
        var (_, alice) = await host.Client.GetJsonAsync("api/audit?tenant_id=acme&user_id=alice");
        Assert.All(alice.GetProperty("entries").EnumerateArray(), e => Assert.NotEqual("freeze", e.GetProperty("action").GetString()));
    }
}
