using System.Text.Json;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Security;

/// <summary>
/// The attacks of the trust review, through the real app: duplicate keys, lone surrogates, dot-segment ids and paths,
/// calendar-edge dates. Each is a 400 naming the field (never a 5xx, never "last one wins").
/// </summary>
public sealed class InputPolicyTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 3, 16, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static void AssertNames(int status, JsonElement problem, string field)
    {
        Assert.True(status == 400, $"expected 400, got {status}: {problem}");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}': {problem}");
    }

    [Fact]
    public async Task ADuplicatedRoleNeverMakesAnAdminKey()
    {
        var (status, problem) = await _host.Client.PostRawAsync("api/keys", "{\"role\":\"reader\",\"tenant_id\":\"acme\",\"role\":\"admin\"}");
        AssertNames(status, problem, "role");
        var (caseStatus, caseProblem) = await _host.Client.PostRawAsync("api/keys", "{\"role\":\"reader\",\"tenant_id\":\"acme\",\"Role\":\"admin\"}");
        AssertNames(caseStatus, caseProblem, "Role");
        var (_, keys) = await _host.Client.GetJsonAsync("api/keys");
        Assert.Empty(keys.GetProperty("keys").EnumerateArray());
    }

    [Theory]
    [InlineData("{\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"provider\":\"openai\",\"model\":\"gpt-4o\",\"raw_usage\":{\"prompt_tokens\":10,\"completion_tokens\":1,\"prompt_tokens\":100000}}", "raw_usage.prompt_tokens")]
    [InlineData("{\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":10,\"input_tokens\":10}}", "usage.input_tokens")]
    [InlineData("{\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":10},\"tags\":{\"a\":\"1\",\"a\":\"2\"}}", "tags.a")]
    [InlineData("{\"events\":[{\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":1}},{\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"user_id\":\"bob\",\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":1}}]}", "events[1].user_id")]
    [InlineData("{\"tenant_id\":\"acme\",\"user_id\":\"\\ud800\",\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":1}}", "user_id")]
    [InlineData("{\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"model\":\"gpt\\udc00-4o\",\"usage\":{\"input_tokens\":1}}", "model")]
    [InlineData("{\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":1},\"tags\":{\"k\\ud800\":\"v\"}}", "tags")]
    [InlineData("{\"tenant_id\":\".\",\"user_id\":\"alice\",\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":1}}", "tenant_id")]
    [InlineData("{\"tenant_id\":\"acme\",\"user_id\":\"..\",\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":1}}", "user_id")]
    [InlineData("{\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"team_id\":\".\",\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":1}}", "team_id")]
    [InlineData("{\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"model\":\"gpt-4o\",\"timestamp\":\"0001-01-01T00:00:00Z\",\"usage\":{\"input_tokens\":1}}", "timestamp")]
    [InlineData("{\"tenant_id\":\"acme\",\"user_id\":\"alice\",\"model\":\"gpt-4o\",\"timestamp\":\"9999-12-31T23:59:59Z\",\"usage\":{\"input_tokens\":1}}", "timestamp")]
    public async Task BadUsageBodiesAre400NamingTheFieldAndRecordNothing(string json, string field)
    {
        var (status, problem) = await _host.Client.PostRawAsync("api/usage", json);
        AssertNames(status, problem, field);
        var (_, usage) = await _host.Client.GetJsonAsync("api/tenants/acme/usage?from=2026-03-15&to=2026-03-17");
        Assert.Equal(0, usage.GetProperty("total").GetProperty("events").GetInt64());
    }

    [Theory]
    [InlineData("{\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":1,\"input_tokens\":2}}", "usage.input_tokens")]
    [InlineData("{\"model\":\"\\ud800\",\"usage\":{\"input_tokens\":1}}", "model")]
    [InlineData("{\"provider\":\"open\\udfffai\",\"model\":\"gpt-4o\",\"usage\":{\"input_tokens\":1}}", "provider")]
    public async Task BadPriceBodiesAre400NamingTheField(string json, string field)
    {
        var (status, problem) = await _host.Client.PostRawAsync("api/price", json);
        AssertNames(status, problem, field);
    }

    [Theory]
    [InlineData("api/users/alice/usage?tenant_id=acme&from=0001-01-01", "from")]
    [InlineData("api/users/alice/usage?tenant_id=acme&to=0001-01-02", "to")]
    [InlineData("api/users/alice/usage?tenant_id=acme&from=9999-12-30&to=9999-12-31", "to")]
    [InlineData("api/users/alice/usage?tenant_id=acme&to=9999-12-31T23:59:59Z", "to")]
    [InlineData("api/users/alice/events?tenant_id=acme&from=0001-01-01&to=0001-01-02", "to")]
    [InlineData("api/teams/red/usage?tenant_id=acme&from=9999-12-31T00:00:00Z", "from")]
    [InlineData("api/rollups?tenant_id=acme&granularity=day&from=0001-01-01&to=0001-01-05", "from")]
    [InlineData("api/rollups?tenant_id=acme&granularity=month&from=2026-01-01&to=9999-12-31", "to")]
    [InlineData("api/users/%2E%2E%2E/usage?tenant_id=acme", "userId")]
    [InlineData("api/users/alice/usage?tenant_id=.", "tenant_id")]
    [InlineData("api/users/alice/usage?tenant_id=..", "tenant_id")]
    [InlineData("api/alerts/rules/..%2E?tenant_id=acme", "ruleId")]
    [InlineData("api/alerts?tenant_id=acme&limit=lots", "limit")]
    [InlineData("api/users/alice/usage?tenant_id=acme&tenant_id=globex", "tenant_id")]
    public async Task BadQueriesAndRouteValuesAre400NamingTheParameter(string path, string field)
    {
        var (status, problem) = await _host.Client.GetJsonAsync(path);
        AssertNames(status, problem, field);
    }

    [Theory]
    [InlineData("api/reports", "{\"tenant_id\":\"acme\",\"period\":\"month\",\"date\":\"9999-12-31\"}", "date")]
    [InlineData("api/reports", "{\"tenant_id\":\"acme\",\"period\":\"day\",\"date\":\"0001-01-01\"}", "date")]
    [InlineData("api/keys", "{\"role\":\"reader\",\"tenant_id\":\".\"}", "tenant_id")]
    [InlineData("api/keys", "{\"role\":\"reader\",\"tenant_id\":\"acme\",\"user_id\":\"..\"}", "user_id")]
    [InlineData("api/alerts/rules", "{\"tenant_id\":\"acme\",\"kind\":\"cost_anomaly\",\"cooldown_minutes\":\"soon\"}", "cooldown_minutes")]
    [InlineData("api/alerts/rules", "{\"tenant_id\":\"acme\",\"kind\":[1]}", "kind")]
    [InlineData("api/budgets", "{\"tenant_id\":\"acme\",\"scope\":\"user\",\"scope_id\":\"a\",\"amount_usd\":\"1\",\"period\":\"daily\",\"mode\":\"hard\",\"mode\":\"soft\"}", "mode")]
    public async Task BadBodiesOnEveryOtherEndpointAre400NamingTheField(string path, string json, string field)
    {
        var (status, problem) = await _host.Client.PostRawAsync(path, json);
        AssertNames(status, problem, field);
    }

    [Fact]
    public async Task AReportPathCannotLeaveTheCallersTenant()
    {
        foreach (var tenant in new[] { "acme", "globex" })
        {
            var (status, _) = await _host.Client.PostAsync("api/reports", new { tenant_id = tenant, period = "day", date = "2026-03-16" });
            Assert.Equal(201, status);
        }

        using var reader = _host.CreateClient(await _host.CreateKeyAsync("reader", "acme"));
        Assert.Equal(200, (int)(await reader.GetAsync(new Uri("api/reports/download?path=reports/acme/2026/03/16/daily.json", UriKind.Relative))).StatusCode);
        foreach (var path in new[]
        {
            "reports/acme/../globex/2026/03/16/daily.json",
            "reports/acme/./../globex/2026/03/16/daily.json",
            "reports/acme/%2e%2e/globex/2026/03/16/daily.json",
            "reports/acme/..%2fglobex/2026/03/16/daily.json",
            "reports/./globex/2026/03/16/daily.json",
            "reports/acme//2026/03/16/daily.json",
            "reports/acme/2026\\..\\..\\globex/2026/03/16/daily.json",
        })
        {
            using var response = await reader.GetAsync(new Uri($"api/reports/download?path={Uri.EscapeDataString(path)}", UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode is 400 or 404, $"{path}: {(int)response.StatusCode} {body}");
            Assert.DoesNotContain("\"tenant_id\": \"globex\"", body, StringComparison.Ordinal);
        }

        // A tenant named "." cannot exist: neither as a key's tenant nor as an admin's tenant_id.
        var (keyStatus, _) = await _host.Client.PostAsync("api/keys", new { role = "reader", tenant_id = "." });
        Assert.Equal(400, keyStatus);
        var (adminStatus, _) = await _host.Client.GetJsonAsync("api/reports/download?tenant_id=.&path=reports/./globex/2026/03/16/daily.json");
        Assert.Equal(400, adminStatus);
    }
}
