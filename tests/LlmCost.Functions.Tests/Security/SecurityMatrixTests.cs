using System.Text;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using static LlmCost.Functions.Tests.Security.SecurityFixture;

namespace LlmCost.Functions.Tests.Security;

/// <summary>What a case is about: whose data, relative to the keys of tenant A (alice's bound reader).</summary>
public enum Scope
{
    /// <summary>Nothing tenant-specific (health, pricing, profiles).</summary>
    None,
    OwnUser,
    OtherUser,
    Team,
    Tenant,
    OtherTenant,
}

/// <summary>Which keys an endpoint is for.</summary>
public enum Access
{
    Anonymous,
    AnyKey,
    Reader,
    Ingest,
    Admin,
}

/// <summary>How a reader bound to alice is refused anything about someone else in its tenant.</summary>
public enum BoundRefusal
{
    /// <summary>403: the whole endpoint is about more than one user (team, tenant, reports, rollups).</summary>
    Forbidden,

    /// <summary>404: a single record it may not see is answered as absent (its existence is not revealed).</summary>
    NotFound,

    /// <summary>200: a list, filtered to what it may see (checked by the content rules).</summary>
    Filtered,
}

/// <summary>One endpoint of the app: who may call it, and how to build a request for each scope.</summary>
public sealed record EndpointRow(
    string Method,
    string Pattern,
    Access Access,
    int Success,
    Scope[] Scopes,
    Func<SecurityFixture, Scope, Role, Task<HttpRequestMessage>> Build,
    BoundRefusal Bound = BoundRefusal.Forbidden,
    int CrossTenant = StatusCodes.Status403Forbidden,
    bool Fuzz = true)
{
    public string Key => $"{Method} {Pattern}";
}

/// <summary>
/// The security suite: every endpoint of the app × every role × every scope → the expected status, plus content
/// rules on every 2xx body (a key never sees another tenant's ids; a reader bound to alice never sees bob). The
/// endpoints are enumerated from the app's own <see cref="EndpointDataSource"/>, so a new endpoint without a row
/// here fails <see cref="EveryEndpointHasARow"/>.
/// </summary>
public sealed class SecurityMatrixTests(SecurityFixture fixture, ITestOutputHelper output) : IClassFixture<SecurityFixture>
{
    private static readonly Role[] AllRoles = Enum.GetValues<Role>();

    private static string T(Scope scope) => scope == Scope.OtherTenant ? TenantB : TenantA;

    private static Task<HttpRequestMessage> Get(string path) => Task.FromResult(new HttpRequestMessage(HttpMethod.Get, path));

    private static Task<HttpRequestMessage> Send(HttpMethod method, string path, object? body = null) =>
        Task.FromResult(body is null ? new HttpRequestMessage(method, path) : Json(method, path, body));

    private static string UserOf(Scope scope) => scope switch
    {
        Scope.OwnUser => Alice,
        Scope.OtherUser => Bob,
        Scope.OtherTenant => Gina,
        _ => throw new ArgumentOutOfRangeException(nameof(scope)),
    };

    /// <summary>
    /// A user of its own for every budget a row creates, in a scratch tenant per row: at most 8 period budgets may
    /// apply to one request, and the fuzz corpus creates many (also every-user budgets, when it drops scope_id).
    /// </summary>
    private static string Zed() => "zed-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A fresh reservation of a fresh user with a budget of its own (made with the admin key), for the release row.</summary>
    private static async Task<(string User, string Reservation)> ReserveAsync(SecurityFixture fixture, Scope scope)
    {
        string user = Zed();
        await fixture.CreateBudgetAsync(T(scope), "user", user);
        (int status, System.Text.Json.JsonElement body) = await fixture.Host.Client.PostAsync("api/budgets/authorize",
            new { tenant_id = T(scope), user_id = user, provider = "openai", model = "gpt-4o-mini", input_tokens = 10, max_tokens = 10 });
        Assert.True(status == 200 && body.TryGetProperty("reservation_id", out var id) && id.ValueKind == System.Text.Json.JsonValueKind.String, body.ToString());
        return (user, body.GetProperty("reservation_id").GetString()!);
    }

    /// <summary>The filter that narrows a tenant-wide query to a scope (none for the tenant itself).</summary>
    private static string Narrow(Scope scope) => scope switch
    {
        Scope.OwnUser or Scope.OtherUser => $"&user_id={UserOf(scope)}",
        Scope.Team => $"&team_id={Team}",
        _ => string.Empty,
    };

    /// <summary>The key of the fixture's per-scope records (budgets, rules, alerts).</summary>
    private static string Record(Scope scope) => scope switch
    {
        Scope.OwnUser => "alice",
        Scope.OtherUser => "bob",
        Scope.Team => "team",
        Scope.Tenant => "tenant",
        _ => "gina",
    };

    private static object Event(Scope scope) => new
    {
        event_id = "m-" + Guid.NewGuid().ToString("N"), tenant_id = T(scope), user_id = UserOf(scope), model = "gpt-4o-mini",
        timestamp = "2026-03-16T11:00:00Z", usage = new { input_tokens = 10, output_tokens = 1 },
    };

    /// <summary>An OTLP JSON trace export with one GenAI span of the scope's user and tenant.</summary>
    private static object OtlpExport(Scope scope) => new
    {
        resourceSpans = new[]
        {
            new
            {
                resource = new
                {
                    attributes = new object[]
                    {
                        new { key = "llmcost.tenant_id", value = new { stringValue = T(scope) } },
                        new { key = "user.id", value = new { stringValue = UserOf(scope) } },
                    },
                },
                scopeSpans = new[]
                {
                    new
                    {
                        spans = new[]
                        {
                            new
                            {
                                traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()), spanId = "0102030405060708", name = "chat",
                                endTimeUnixNano = "1773658800000000000",
                                attributes = new object[]
                                {
                                    new { key = "gen_ai.request.model", value = new { stringValue = "gpt-4o-mini" } },
                                    new { key = "gen_ai.usage.input_tokens", value = new { intValue = "10" } },
                                },
                            },
                        },
                    },
                },
            },
        },
    };

    public static IReadOnlyList<EndpointRow> Rows { get; } =
    [
        new("GET", "/", Access.Anonymous, 200, [Scope.None], (_, _, _) => Get("/")),
        new("GET", "/openapi/{documentName}.json", Access.Anonymous, 200, [Scope.None], (_, _, _) => Get("openapi/v1.json")),
        new("GET", "/api/health", Access.Anonymous, 200, [Scope.None], (_, _, _) => Get("api/health")),
        new("ANY", "/metrics", Access.Admin, 200, [Scope.None], (_, _, _) => Get("metrics")),

        // The API reference: a page per document, and its own script and icon (fixed files, no input to fuzz; the
        // script is megabytes).
        new("GET", "/scalar/{documentName?}", Access.Anonymous, 200, [Scope.None], (_, _, _) => Get("scalar/v1")),
        new("GET", "/scalar/scalar.js", Access.Anonymous, 200, [Scope.None], (_, _, _) => Get("scalar/scalar.js"), Fuzz: false),
        new("GET", "/scalar/scalar.aspnetcore.js", Access.Anonymous, 200, [Scope.None], (_, _, _) => Get("scalar/scalar.aspnetcore.js"), Fuzz: false),
        new("GET", "/scalar/favicon.svg", Access.Anonymous, 200, [Scope.None], (_, _, _) => Get("scalar/favicon.svg"), Fuzz: false),

        // Usage
        new("POST", "/api/usage", Access.Ingest, 200, [Scope.OwnUser, Scope.OtherTenant], (_, s, _) => Send(HttpMethod.Post, "api/usage", Event(s))),
        new("POST", "/v1/traces", Access.Ingest, 200, [Scope.OwnUser, Scope.OtherTenant], (_, s, _) => Send(HttpMethod.Post, "v1/traces", OtlpExport(s))),
        new("POST", "/api/v1/traces", Access.Ingest, 200, [Scope.OwnUser, Scope.OtherTenant], (_, s, _) => Send(HttpMethod.Post, "api/v1/traces", OtlpExport(s))),
        new("POST", "/api/price", Access.AnyKey, 200, [Scope.None],
            (_, _, _) => Send(HttpMethod.Post, "api/price", new { model = "gpt-4o", usage = new { input_tokens = 10, output_tokens = 1 } })),
        new("GET", "/api/users/{userId}/usage", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.OtherTenant],
            (_, s, _) => Get($"api/users/{UserOf(s)}/usage?tenant_id={T(s)}&from=2026-03-16&to=2026-03-17")),
        new("GET", "/api/teams/{teamId}/usage", Access.Reader, 200, [Scope.Team, Scope.OtherTenant],
            (_, s, _) => Get($"api/teams/{Team}/usage?tenant_id={T(s)}&from=2026-03-16&to=2026-03-17")),
        new("GET", "/api/tenants/{tenantId}/usage", Access.Reader, 200, [Scope.Tenant, Scope.OtherTenant],
            (_, s, _) => Get($"api/tenants/{T(s)}/usage?from=2026-03-16&to=2026-03-17")),
        new("GET", "/api/users/{userId}/events", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.OtherTenant],
            (_, s, _) => Get($"api/users/{UserOf(s)}/events?tenant_id={T(s)}&from=2026-03-16&to=2026-03-17")),

        // Keys and audit
        new("POST", "/api/keys", Access.Admin, 201, [Scope.Tenant], (_, _, _) => Send(HttpMethod.Post, "api/keys", new { role = "reader", tenant_id = TenantA })),
        new("GET", "/api/keys", Access.Admin, 200, [Scope.Tenant], (_, _, _) => Get($"api/keys?tenant_id={TenantA}")),
        new("DELETE", "/api/keys/{keyId}", Access.Admin, 204, [Scope.Tenant],
            async (f, _, r) => new HttpRequestMessage(HttpMethod.Delete, $"api/keys/{(r == Role.Admin ? await f.CreateKeyIdAsync() : "0011223344556677")}")),
        new("GET", "/api/audit", Access.Admin, 200, [Scope.Tenant, Scope.OtherTenant], (_, s, _) => Get($"api/audit?tenant_id={T(s)}")),

        // Pricing policies (a scratch tenant, so the other rows' prices stay list prices)
        new("PUT", "/api/pricing/policies/{tenantId}", Access.Admin, 200, [Scope.Tenant],
            (_, _, _) => Send(HttpMethod.Put, "api/pricing/policies/scratch-t9", new { discount_percent = 5, volume_tiers = new[] { new { basis = "monthly_tokens", threshold = 1000, discount_percent = 7 } } })),
        new("GET", "/api/pricing/policies/{tenantId}", Access.Admin, 200, [Scope.Tenant, Scope.OtherTenant], (_, s, _) => Get($"api/pricing/policies/{T(s)}")),
        new("DELETE", "/api/pricing/policies/{tenantId}", Access.Admin, 200, [Scope.Tenant],
            async (f, _, r) =>
            {
                if (r == Role.Admin)
                {
                    using HttpResponseMessage put = await f.Client(Role.Admin).SendAsync(Json(HttpMethod.Put, "api/pricing/policies/scratch-t9", new { discount_percent = 3 }));
                    put.EnsureSuccessStatusCode();
                }

                return new HttpRequestMessage(HttpMethod.Delete, "api/pricing/policies/scratch-t9");
            }),

        new("POST", "/api/pricing/catalogs", Access.Admin, 201, [Scope.None],
            (_, _, _) => Send(HttpMethod.Post, "api/pricing/catalogs", new Dictionary<string, object>
            {
                ["matrix-model"] = new { litellm_provider = "matrix-llm", mode = "chat", input_cost_per_token = 0.000001, output_cost_per_token = 0.000002 },
            })),
        new("GET", "/api/pricing/catalogs", Access.AnyKey, 200, [Scope.None], (_, _, _) => Get("api/pricing/catalogs")),

        new("POST", "/api/repricing", Access.Admin, 200, [Scope.Tenant],
            (_, _, _) => Send(HttpMethod.Post, "api/repricing", new { tenant_id = TenantA, period = "2026-03", dry_run = true })),

        // Budgets
        new("POST", "/api/budgets", Access.Admin, 201, [Scope.Tenant],
            (_, _, _) => Send(HttpMethod.Post, "api/budgets", new { tenant_id = "scratch-post", scope = "user", scope_id = Zed(), amount_usd = "5", period = "daily", mode = "soft" })),
        new("GET", "/api/budgets", Access.Reader, 200, [Scope.Tenant, Scope.OtherTenant], (_, s, _) => Get($"api/budgets?tenant_id={T(s)}"), BoundRefusal.Filtered),
        new("GET", "/api/budgets/{budgetId}", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.Team, Scope.Tenant, Scope.OtherTenant],
            (f, s, _) => Get($"api/budgets/{f.Budgets[Record(s)]}"), BoundRefusal.NotFound, CrossTenant: 404),
        new("PUT", "/api/budgets/{budgetId}", Access.Admin, 200, [Scope.Tenant],
            async (f, _, r) => Json(HttpMethod.Put, $"api/budgets/{(r == Role.Admin ? await f.CreateBudgetAsync("scratch-put", "user", Zed()) : f.Budgets["bob"])}",
                new { scope = "user", scope_id = Zed(), amount_usd = "7", period = "daily", mode = "soft" })),
        new("DELETE", "/api/budgets/{budgetId}", Access.Admin, 204, [Scope.Tenant],
            async (f, _, r) => new HttpRequestMessage(HttpMethod.Delete, $"api/budgets/{(r == Role.Admin ? await f.CreateBudgetAsync("scratch-delete", "user", Zed()) : f.Budgets["bob"])}")),
        new("GET", "/api/budgets/{budgetId}/status", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.Team, Scope.Tenant, Scope.OtherTenant],
            (f, s, _) => Get($"api/budgets/{f.Budgets[Record(s)]}/status"), BoundRefusal.NotFound, CrossTenant: 404),
        new("POST", "/api/budgets/{budgetId}/breaker/reset", Access.Admin, 200, [Scope.Tenant],
            (f, _, _) => Send(HttpMethod.Post, $"api/budgets/{f.Budgets["tenant"]}/breaker/reset")),
        new("POST", "/api/budgets/authorize", Access.Ingest, 200, [Scope.OwnUser, Scope.OtherTenant],
            (_, s, _) => Send(HttpMethod.Post, "api/budgets/authorize", new { tenant_id = T(s), user_id = UserOf(s), provider = "openai", model = "gpt-4o-mini", input_tokens = 10, max_tokens = 10 })),
        new("GET", "/api/budgets/profiles", Access.Reader, 200, [Scope.None], (_, _, _) => Get("api/budgets/profiles")),
        new("POST", "/api/budgets/profiles", Access.Admin, 200, [Scope.Tenant],
            (_, _, _) => Send(HttpMethod.Post, "api/budgets/profiles", new { tenant_id = "scratch-t9", profile = "development" })),
        new("POST", "/api/budgets/freeze", Access.Admin, 200, [Scope.Tenant],
            (_, _, _) => Send(HttpMethod.Post, "api/budgets/freeze", new { tenant_id = "scratch-t9", scope = "user", scope_id = "zed-u9" })),
        new("POST", "/api/budgets/unfreeze", Access.Admin, 200, [Scope.Tenant],
            (_, _, _) => Send(HttpMethod.Post, "api/budgets/unfreeze", new { tenant_id = "scratch-t9", scope = "user", scope_id = "zed-u9" })),
        new("GET", "/api/budgets/freezes", Access.Reader, 200, [Scope.Tenant, Scope.OtherTenant], (_, s, _) => Get($"api/budgets/freezes?tenant_id={T(s)}"), BoundRefusal.Filtered),
        new("GET", "/api/budgets/alerts", Access.Reader, 200, [Scope.Tenant, Scope.OtherTenant], (_, s, _) => Get($"api/budgets/alerts?tenant_id={T(s)}"), BoundRefusal.Filtered),
        new("POST", "/api/budgets/reservations/{reservationId}/release", Access.Ingest, 200, [Scope.OwnUser, Scope.OtherTenant],
            async (f, s, _) =>
            {
                (string user, string reservation) = await ReserveAsync(f, s);
                return Json(HttpMethod.Post, $"api/budgets/reservations/{reservation}/release", new { tenant_id = T(s), user_id = user });
            }),
        new("POST", "/api/budgets/reservations/expire", Access.Admin, 200, [Scope.None], (_, _, _) => Send(HttpMethod.Post, "api/budgets/reservations/expire")),

        // Alerts: feed, subscriptions, rules
        new("GET", "/api/alerts", Access.Reader, 200, [Scope.Tenant, Scope.OtherTenant], (_, s, _) => Get($"api/alerts?tenant_id={T(s)}"), BoundRefusal.Filtered),
        new("GET", "/api/alerts/{alertId}", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.Tenant, Scope.OtherTenant],
            (f, s, _) => Get($"api/alerts/{f.Alerts[Record(s)]}?tenant_id={T(s)}"), BoundRefusal.NotFound),
        new("POST", "/api/alerts/{alertId}/read", Access.Reader, 204, [Scope.OwnUser, Scope.OtherUser, Scope.Tenant, Scope.OtherTenant],
            (f, s, _) => Send(HttpMethod.Post, $"api/alerts/{f.Alerts[Record(s)]}/read?tenant_id={T(s)}"), BoundRefusal.NotFound),
        new("GET", "/api/alerts/subscriptions", Access.Reader, 200, [Scope.Tenant, Scope.OtherTenant], (_, s, _) => Get($"api/alerts/subscriptions?tenant_id={T(s)}")),
        new("POST", "/api/alerts/subscriptions", Access.Admin, 201, [Scope.Tenant],
            (_, _, _) => Send(HttpMethod.Post, "api/alerts/subscriptions", new { tenant_id = TenantA, channel = "slack", url = "https://hooks.example.com/s" })),
        new("DELETE", "/api/alerts/subscriptions/{subscriptionId}", Access.Admin, 204, [Scope.Tenant],
            async (f, _, r) => new HttpRequestMessage(HttpMethod.Delete, $"api/alerts/subscriptions/{(r == Role.Admin ? await f.CreateSubscriptionAsync() : "sub_x")}?tenant_id={TenantA}")),
        new("GET", "/api/alerts/rules", Access.Reader, 200, [Scope.Tenant, Scope.OtherTenant], (_, s, _) => Get($"api/alerts/rules?tenant_id={T(s)}"), BoundRefusal.Filtered),
        new("POST", "/api/alerts/rules", Access.Admin, 201, [Scope.Tenant],
            (_, _, _) => Send(HttpMethod.Post, "api/alerts/rules", new { tenant_id = TenantA, kind = "cost_anomaly" })),
        new("GET", "/api/alerts/rules/{ruleId}", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.Tenant, Scope.OtherTenant],
            (f, s, _) => Get($"api/alerts/rules/{f.Rules[Record(s)]}?tenant_id={T(s)}"), BoundRefusal.NotFound),
        new("PUT", "/api/alerts/rules/{ruleId}", Access.Admin, 200, [Scope.Tenant],
            (f, _, _) => Send(HttpMethod.Put, $"api/alerts/rules/{f.Rules["tenant"]}", new { tenant_id = TenantA, kind = "cost_anomaly", cooldown_minutes = 30 })),
        new("DELETE", "/api/alerts/rules/{ruleId}", Access.Admin, 204, [Scope.Tenant],
            async (f, _, r) => new HttpRequestMessage(HttpMethod.Delete, $"api/alerts/rules/{(r == Role.Admin ? await f.CreateRuleAsync(TenantA, null, null) : "rule_x")}?tenant_id={TenantA}")),

        // Reports, rollups
        new("POST", "/api/reports", Access.Admin, 201, [Scope.Tenant],
            (_, _, _) => Send(HttpMethod.Post, "api/reports", new { tenant_id = TenantA, period = "day", date = "2026-03-15", currency = "USD" })),
        new("GET", "/api/reports", Access.Reader, 200, [Scope.Tenant, Scope.OtherTenant], (_, s, _) => Get($"api/reports?tenant_id={T(s)}")),
        new("GET", "/api/reports/download", Access.Reader, 200, [Scope.Tenant, Scope.OtherTenant],
            (f, s, _) => Get($"api/reports/download?tenant_id={T(s)}&path={Uri.EscapeDataString(s == Scope.OtherTenant ? f.ReportPathB : f.ReportPathA)}")),
        new("GET", "/api/rollups", Access.Reader, 200, [Scope.Tenant, Scope.OtherTenant],
            (_, s, _) => Get($"api/rollups?tenant_id={T(s)}&granularity=day&from=2026-03-01&to=2026-03-31")),

        // Advice
        new("GET", "/api/recommendations", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.Team, Scope.Tenant, Scope.OtherTenant],
            (_, s, _) => Get($"api/recommendations?tenant_id={T(s)}&from=2026-03-10&to=2026-03-17" + s switch
            {
                Scope.OwnUser or Scope.OtherUser => $"&scope=user&scope_id={UserOf(s)}",
                Scope.Team => $"&scope=team&scope_id={Team}",
                _ => string.Empty,
            })),
        new("POST", "/api/models/select", Access.Ingest, 200, [Scope.OwnUser, Scope.OtherTenant],
            (_, s, _) => Send(HttpMethod.Post, "api/models/select", new
            {
                // No provider named: advice prices with the catalog in force, which the catalog row above replaces.
                tenant_id = T(s), user_id = UserOf(s), tools = true, expected_input_tokens = 1000, expected_output_tokens = 200, max_candidates = 3,
            })),
        new("GET", "/api/metrics/business", Access.Reader, 200, [Scope.Team, Scope.Tenant, Scope.OtherTenant],
            (_, s, _) => Get($"api/metrics/business?tenant_id={T(s)}&from=2026-03-10&to=2026-03-17" + (s == Scope.Team ? $"&team_id={Team}" : string.Empty))),

        // Dashboard: the static site, and the read endpoints it added to the API
        new("GET", "/dashboard/{**path}", Access.Anonymous, 200, [Scope.None], (_, _, _) => Get("dashboard/")),
        new("HEAD", "/dashboard/{**path}", Access.Anonymous, 200, [Scope.None], (_, _, _) => Send(HttpMethod.Head, "dashboard/app.js")),
        new("GET", "/api/whoami", Access.AnyKey, 200, [Scope.None], (_, _, _) => Get("api/whoami")),
        new("GET", "/api/usage/breakdown", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.Team, Scope.Tenant, Scope.OtherTenant],
            (_, s, _) => Get($"api/usage/breakdown?tenant_id={T(s)}{Narrow(s)}&from=2026-03-16&to=2026-03-17&by=user")),
        // By app and by key (and the app filter) are summed from the events, not the summaries: the same scoping applies.
        new("GET", "/api/usage/breakdown", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.Team, Scope.Tenant, Scope.OtherTenant],
            (_, s, _) => Get($"api/usage/breakdown?tenant_id={T(s)}{Narrow(s)}&from=2026-03-16&to=2026-03-17&by=app"), Fuzz: false),
        new("GET", "/api/usage/breakdown", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.Team, Scope.Tenant, Scope.OtherTenant],
            (_, s, _) => Get($"api/usage/breakdown?tenant_id={T(s)}{Narrow(s)}&from=2026-03-16&to=2026-03-17&by=key&app=chat"), Fuzz: false),
        new("GET", "/api/exports/focus", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.Team, Scope.Tenant, Scope.OtherTenant],
            (_, s, _) => Get($"api/exports/focus?tenant_id={T(s)}{Narrow(s)}&from=2026-03-16&to=2026-03-17")),
        new("GET", "/api/exports/focus", Access.Reader, 200, [Scope.OwnUser, Scope.OtherUser, Scope.Team, Scope.Tenant, Scope.OtherTenant],
            (_, s, _) => Get($"api/exports/focus?tenant_id={T(s)}{Narrow(s)}&from=2026-03-16&to=2026-03-17&app=chat"), Fuzz: false),

        // GDPR
        new("GET", "/api/users/{userId}/export", Access.Admin, 200, [Scope.OwnUser], (_, _, _) => Get($"api/users/{Alice}/export?tenant_id={TenantA}")),
        new("DELETE", "/api/users/{userId}", Access.Admin, 200, [Scope.Tenant],
            (_, _, _) => Send(HttpMethod.Delete, $"api/users/zed-u9?tenant_id={TenantA}")),
    ];

    /// <summary>The status a role must get for a scope of a row.</summary>
    public static int Expected(EndpointRow row, Scope scope, Role role)
    {
        if (row.Access == Access.Anonymous)
        {
            return row.Success;
        }

        if (role is Role.NoKey or Role.WrongKey)
        {
            return 401;
        }

        if (role == Role.Admin || row.Access == Access.AnyKey)
        {
            return row.Success;
        }

        bool ownTenant = scope != Scope.OtherTenant;
        switch (row.Access)
        {
            case Access.Admin:
                return 403;
            case Access.Ingest:
                return role switch
                {
                    Role.Ingest => ownTenant ? row.Success : 403,
                    Role.OtherIngest => ownTenant ? 403 : row.Success,
                    _ => 403,
                };
            default:
                if (role is Role.Ingest or Role.OtherIngest)
                {
                    return 403;
                }

                if (scope == Scope.None)
                {
                    return row.Success;
                }

                if (role == Role.OtherReader)
                {
                    return ownTenant ? row.CrossTenant : row.Success;
                }

                if (!ownTenant)
                {
                    return row.CrossTenant;
                }

                if (role == Role.Reader || scope == Scope.OwnUser)
                {
                    return row.Success;
                }

                return row.Bound switch
                {
                    BoundRefusal.Forbidden => 403,
                    BoundRefusal.NotFound => 404,
                    _ => row.Success,
                };
        }
    }

    /// <summary>Ids a role must never find in a successful answer.</summary>
    private static string[] Hidden(Role role) => role switch
    {
        Role.Reader or Role.Ingest => [TenantB, Gina],
        Role.BoundReader => [TenantB, Gina, Bob],
        Role.OtherReader or Role.OtherIngest => [TenantA, Alice, Bob],
        _ => [],
    };

    [Fact]
    public void EveryEndpointHasARow()
    {
        var mapped = fixture.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["ANY"])
                .Select(m => $"{m} {Normalise(e.RoutePattern.RawText)}"))
            .ToHashSet(StringComparer.Ordinal);
        var rows = Rows.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        Assert.True(mapped.Count > 40, $"only {mapped.Count} endpoints found");
        Assert.Empty(mapped.Except(rows).Order());
        Assert.Empty(rows.Except(mapped).Order());
    }

    /// <summary>
    /// One case; storage that is overloaded (a 503 with Retry-After, as on a box at load 45) is not an access decision,
    /// so the case is sent again, as a client would, a few times before its answer counts.
    /// </summary>
    private async Task<(int Status, string Body)> SendAsync(EndpointRow row, Scope scope, Role role, int expected)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var request = await row.Build(fixture, scope, role);
            using var response = await fixture.Client(role).SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null && expected != 503 && attempt < 4)
            {
                output.WriteLine($"{row.Key} [{scope}] as {role}: 503 with Retry-After (storage overloaded), sent again");
                await Task.Delay(TimeSpan.FromSeconds(attempt));
                continue;
            }

            return ((int)response.StatusCode, body);
        }
    }

    [Fact]
    public async Task EveryEndpointRoleAndScopeGetsItsExpectedStatusAndNoForeignData()
    {
        var failures = new List<string>();
        var checkedCases = 0;
        foreach (var row in Rows)
        {
            foreach (var scope in row.Scopes)
            {
                foreach (var role in AllRoles)
                {
                    var expected = Expected(row, scope, role);
                    var (status, body) = await SendAsync(row, scope, role, expected);
                    checkedCases++;
                    if (status != expected)
                    {
                        failures.Add($"{row.Key} [{scope}] as {role}: expected {expected}, got {status} {Shorten(body)}");
                        continue;
                    }

                    if (status is >= 200 and < 300)
                    {
                        foreach (var hidden in Hidden(role).Where(h => body.Contains(h, StringComparison.Ordinal)))
                        {
                            failures.Add($"{row.Key} [{scope}] as {role}: the answer contains '{hidden}': {Shorten(body)}");
                        }
                    }
                    else if (status >= 400)
                    {
                        // Every refusal is RFC 9457 problem details.
                        Assert.Contains("\"status\"", body, StringComparison.Ordinal);
                    }
                }
            }
        }

        output.WriteLine($"security matrix: {Rows.Count} endpoints, {checkedCases} endpoint x role x scope cases checked");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public async Task ABoundReaderListsOnlyItsOwnUsersRecords()
    {
        var client = fixture.Client(Role.BoundReader);
        async Task<string[]> Ids(string path, string list, string field)
        {
            var (status, body) = await client.GetJsonAsync(path);
            Assert.Equal(200, status);
            return [.. body.GetProperty(list).EnumerateArray().Select(e => e.GetProperty(field).GetString()!)];
        }

        Assert.Equal([fixture.Budgets["alice"]], await Ids($"api/budgets?tenant_id={TenantA}", "budgets", "budget_id"));
        Assert.Equal([fixture.Rules["alice"]], await Ids($"api/alerts/rules?tenant_id={TenantA}", "rules", "rule_id"));
        Assert.Equal([Alice], await Ids($"api/budgets/freezes?tenant_id={TenantA}", "freezes", "scope_id"));
        Assert.Equal([fixture.Alerts["alice"]], await Ids($"api/alerts?tenant_id={TenantA}", "alerts", "alert_id"));
        var pending = await Ids($"api/budgets/alerts?tenant_id={TenantA}", "alerts", "scope_id");
        Assert.NotEmpty(pending);
        Assert.All(pending, scopeId => Assert.Equal(Alice, scopeId));

        // The tenant reader sees them all (the filter is about the binding, not a blanket cut).
        var (_, all) = await fixture.Client(Role.Reader).GetJsonAsync($"api/budgets?tenant_id={TenantA}");
        var visible = all.GetProperty("budgets").EnumerateArray().Select(b => b.GetProperty("budget_id").GetString()!).ToHashSet();
        Assert.Subset(visible, new[] { "alice", "bob", "team", "tenant" }.Select(k => fixture.Budgets[k]).ToHashSet());
    }

    private static string Normalise(string? pattern)
    {
        var text = pattern ?? string.Empty;
        return text.Length > 1 ? "/" + text.Trim('/') : "/";
    }

    private static string Shorten(string body) => body.Length > 300 ? body[..300] + "…" : body;
}
