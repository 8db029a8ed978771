using System.Text.Json;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Budgets;

/// <summary>
/// <c>LlmCost:Budgets:Defaults</c> (what infra-bicep/main.bicep deploys) through real Kestrel and Azurite, with no
/// budget created. gpt-4o-mini list prices ($0.15 in, $0.60 out per million tokens): 1,000 input + 1,000 max output
/// = $0.00075 worst case (fits the $0.001 default); 1,000 input + 2,000 max output = $0.00135 (does not).
/// </summary>
public sealed class BudgetDefaultsApiTests : IAsyncLifetime
{
    // base64url("acme") = "YWNtZQ": the default budget's stable id for tenant acme.
    private const string DefaultId = "bgt.YWNtZQ.default-monthly";
    private static readonly DateTimeOffset Now = new(2026, 6, 10, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o =>
    {
        o.Time = new FakeTimeProvider(Now);
        o.Settings["LlmCost:Budgets:Defaults:MonthlyLimitUsd"] = "0.001";
        o.Settings["LlmCost:Budgets:Defaults:AlertThresholdsPercent"] = "50,80,100";
        o.Settings["LlmCost:Budgets:Defaults:Enforcement"] = "hard";
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task<(int Status, JsonElement Body)> AuthorizeAsync(string user, long maxTokens) =>
        _host.Client.PostAsync("api/budgets/authorize", new
        {
            tenant_id = "acme", user_id = user, provider = "openai", model = "gpt-4o-mini", input_tokens = 1000, max_tokens = maxTokens,
        });

    [Fact]
    public async Task The_configured_default_limits_users_without_budgets_until_an_explicit_budget_overrides_it()
    {
        var (bigStatus, big) = await AuthorizeAsync("bob", 2000);
        Assert.Equal(200, bigStatus);
        Assert.Equal("deny", big.GetProperty("decision").GetString());
        Assert.Equal(DefaultId, big.GetProperty("budget_id").GetString());
        Assert.Contains(DefaultId, big.GetProperty("reason").GetString(), StringComparison.Ordinal);

        var (_, small) = await AuthorizeAsync("bob", 1000);
        Assert.Equal("allow", small.GetProperty("decision").GetString());
        Assert.Equal(0.00075m, small.Money("reserved_usd"));

        // The default is an every-user budget: bob's hold is visible in its status for bob, with the monthly window.
        var (statusCode, status) = await _host.Client.GetJsonAsync($"api/budgets/{DefaultId}/status?user_id=bob");
        Assert.Equal(200, statusCode);
        Assert.Equal(0.00075m, status.Money("reserved_usd"));
        Assert.Equal(0.00025m, status.Money("remaining_usd"));

        // An explicit budget of bob's own wins over the default.
        var (created, _) = await _host.Client.PostAsync("api/budgets", new
        {
            tenant_id = "acme", scope = "user", scope_id = "bob", amount_usd = "1", period = "monthly", mode = "hard",
        });
        Assert.Equal(201, created);
        var (_, again) = await AuthorizeAsync("bob", 2000);
        Assert.Equal("allow", again.GetProperty("decision").GetString());
        Assert.Equal(0.00135m, again.Money("reserved_usd"));

        // Carol still has no budget of her own: the default still applies to her.
        var (_, carol) = await AuthorizeAsync("carol", 2000);
        Assert.Equal("deny", carol.GetProperty("decision").GetString());
        Assert.Equal(DefaultId, carol.GetProperty("budget_id").GetString());
    }

    [Fact]
    public async Task An_unknown_enforcement_mode_stops_the_host_at_start_naming_the_setting()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => LlmCostTestHost.StartAsync(o =>
        {
            o.Settings["LlmCost:Budgets:Defaults:MonthlyLimitUsd"] = "10";
            o.Settings["LlmCost:Budgets:Defaults:Enforcement"] = "strict";
        }));

        var messages = string.Join(" | ", Chain(error).Select(e => e.Message));
        Assert.Contains("LlmCost:Budgets:Defaults:Enforcement", messages, StringComparison.Ordinal);
    }

    private static IEnumerable<Exception> Chain(Exception? error)
    {
        for (; error is not null; error = error.InnerException)
        {
            yield return error;
        }
    }
}
