using System.Net.Http.Headers;
using System.Text.Json;
using LlmCost.Core.Alerts;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Security;

/// <summary>The callers of the security suite: every role, a key of another tenant, no key and a forged key.</summary>
public enum Role
{
    Admin,
    Ingest,
    Reader,
    BoundReader,
    OtherReader,
    OtherIngest,
    NoKey,
    WrongKey,
}

/// <summary>
/// Two tenants with data of every kind, and a key of every role. Ids are distinctive markers, so a response can be
/// searched for anything the caller must not see: tenant A ("acme-t1": alice-u1, bob-u2, team red-team) and tenant
/// B ("globex-t2": gina-u3). Each record exists once for alice, once for bob, once for the team or tenant, and once in
/// tenant B.
/// </summary>
public sealed class SecurityFixture : IAsyncLifetime
{
    public const string TenantA = "acme-t1";
    public const string TenantB = "globex-t2";
    public const string Alice = "alice-u1";
    public const string Bob = "bob-u2";
    public const string Gina = "gina-u3";
    public const string Team = "red-team";
    public const string ForgedKey = "llmc_0123456789abcdef_forged-secret-forged-secret-forged-secret";

    public static readonly DateTimeOffset Now = new(2026, 3, 16, 12, 0, 0, TimeSpan.Zero);

    private readonly Dictionary<Role, HttpClient> _clients = [];

    public LlmCostTestHost Host { get; private set; } = null!;

    public Dictionary<string, string> Budgets { get; } = [];
    public Dictionary<string, string> Rules { get; } = [];
    public Dictionary<string, string> Alerts { get; } = [];
    public string ReportPathA { get; private set; } = null!;
    public string ReportPathB { get; private set; } = null!;

    public HttpClient Client(Role role) => _clients[role];

    public async Task InitializeAsync()
    {
        Host = await LlmCostTestHost.StartAsync(o =>
        {
            o.Time = new FakeTimeProvider(Now);
            // Standalone serves the Prometheus scrape endpoint; say so, so the matrix does not depend on the environment.
            o.Settings["LlmCost:Telemetry:Prometheus"] = "true";
        });
        _clients[Role.Admin] = Host.Client;
        _clients[Role.Ingest] = Host.CreateClient(await Host.CreateKeyAsync("ingest", TenantA));
        _clients[Role.Reader] = Host.CreateClient(await Host.CreateKeyAsync("reader", TenantA));
        _clients[Role.BoundReader] = Host.CreateClient(await Host.CreateKeyAsync("reader", TenantA, Alice));
        _clients[Role.OtherReader] = Host.CreateClient(await Host.CreateKeyAsync("reader", TenantB));
        _clients[Role.OtherIngest] = Host.CreateClient(await Host.CreateKeyAsync("ingest", TenantB));
        _clients[Role.NoKey] = Host.CreateClient(null);
        _clients[Role.WrongKey] = Host.CreateClient(ForgedKey);

        // Budgets first, so the usage below crosses their thresholds and leaves pending budget alerts per user.
        Budgets["alice"] = await CreateBudgetAsync(TenantA, "user", Alice);
        Budgets["bob"] = await CreateBudgetAsync(TenantA, "user", Bob);
        Budgets["team"] = await CreateBudgetAsync(TenantA, "team", Team);
        Budgets["tenant"] = await CreateBudgetAsync(TenantA, "tenant", null);
        Budgets["gina"] = await CreateBudgetAsync(TenantB, "user", Gina);
        foreach (var (tenant, user) in new[] { (TenantA, Alice), (TenantA, Bob), (TenantB, Gina) })
        {
            var (status, body) = await Host.Client.PostAsync("api/usage", new
            {
                event_id = $"seed-{user}", tenant_id = tenant, user_id = user, team_id = Team, provider = "openai", model = "gpt-4o",
                timestamp = "2026-03-16T10:00:00Z", usage = new { input_tokens = 100_000, output_tokens = 10_000 },
                tags = new { owner = user },
            });
            Assert.True(status == 200, body.ToString());
        }

        await FreezeAsync(TenantA, "user", Alice);
        await FreezeAsync(TenantA, "user", Bob);
        await FreezeAsync(TenantA, "team", Team);
        await FreezeAsync(TenantB, "user", Gina);

        Rules["alice"] = await CreateRuleAsync(TenantA, "user", Alice);
        Rules["bob"] = await CreateRuleAsync(TenantA, "user", Bob);
        Rules["tenant"] = await CreateRuleAsync(TenantA, null, null);
        Rules["gina"] = await CreateRuleAsync(TenantB, "user", Gina);

        var publisher = Host.Services.GetRequiredService<IAlertPublisher>();
        Alert Feed(string tenant, string scope, string scopeId) => new()
        {
            AlertId = $"feed-{scopeId}", Kind = AlertKinds.CostAnomaly, TenantId = tenant, Scope = scope, ScopeId = scopeId,
            CreatedAt = Now, Message = $"spike for {scopeId}",
        };
        await publisher.PublishAsync([Feed(TenantA, "user", Alice), Feed(TenantA, "user", Bob), Feed(TenantA, "tenant", TenantA), Feed(TenantB, "user", Gina)]);
        Alerts["alice"] = $"feed-{Alice}";
        Alerts["bob"] = $"feed-{Bob}";
        Alerts["tenant"] = $"feed-{TenantA}";
        Alerts["gina"] = $"feed-{Gina}";

        var (subStatus, _) = await Host.Client.PostAsync("api/alerts/subscriptions", new { tenant_id = TenantA, channel = "webhook", url = "https://hooks.example.com/a" });
        Assert.Equal(201, subStatus);
        ReportPathA = await CreateReportAsync(TenantA);
        ReportPathB = await CreateReportAsync(TenantB);
    }

    public async Task DisposeAsync()
    {
        foreach (var client in _clients.Values.Where(c => c != Host.Client))
        {
            client.Dispose();
        }

        await Host.DisposeAsync();
    }

    public async Task<string> CreateBudgetAsync(string tenant, string scope, string? scopeId)
    {
        var (status, body) = await Host.Client.PostAsync("api/budgets", new
        {
            tenant_id = tenant, scope, scope_id = scopeId, amount_usd = "0.01", period = "monthly", mode = "soft", thresholds = new[] { 50 },
        });
        Assert.True(status == 201, body.ToString());
        return body.GetProperty("budget_id").GetString()!;
    }

    public async Task<string> CreateRuleAsync(string tenant, string? scope, string? scopeId)
    {
        var (status, body) = await Host.Client.PostAsync("api/alerts/rules", new { tenant_id = tenant, kind = AlertKinds.CostAnomaly, scope, scope_id = scopeId });
        Assert.True(status == 201, body.ToString());
        return body.GetProperty("rule_id").GetString()!;
    }

    public async Task<string> CreateSubscriptionAsync()
    {
        var (status, body) = await Host.Client.PostAsync("api/alerts/subscriptions", new { tenant_id = TenantA, channel = "webhook", url = "https://hooks.example.com/x" });
        Assert.True(status == 201, body.ToString());
        return body.GetProperty("subscription_id").GetString()!;
    }

    public async Task<string> CreateKeyIdAsync()
    {
        var (status, body) = await Host.Client.PostAsync("api/keys", new { role = "reader", tenant_id = TenantA });
        Assert.True(status == 201, body.ToString());
        return body.GetProperty("key_id").GetString()!;
    }

    private async Task FreezeAsync(string tenant, string scope, string scopeId)
    {
        var (status, body) = await Host.Client.PostAsync("api/budgets/freeze", new { tenant_id = tenant, scope, scope_id = scopeId, reason = "test" });
        Assert.True(status == 200, body.ToString());
    }

    private async Task<string> CreateReportAsync(string tenant)
    {
        var (status, body) = await Host.Client.PostAsync("api/reports", new { tenant_id = tenant, period = "day", date = "2026-03-16" });
        Assert.True(status == 201, body.ToString());
        return body.GetProperty("files")[0].GetProperty("path").GetString()!;
    }

    /// <summary>A request with a JSON body (the role's key is on the client).</summary>
    public static HttpRequestMessage Json(HttpMethod method, string path, object body) => new(method, path)
    {
        Content = new StringContent(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
    };
}
