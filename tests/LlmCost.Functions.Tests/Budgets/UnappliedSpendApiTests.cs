using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Budgets;

/// <summary>
/// An authorisation right after usage on the same instance sees that usage without waiting for the projector. The
/// instance here never projects (a projector that has not run yet, for as long as the test lasts), so the only way
/// the ledger's answer can include the usage is the authorisation adding what this instance acknowledged.
/// gpt-4o-mini: worst case of 1,000 input + 1,000 max output = $0.00075; 1,000 input + 100 max = $0.00021; an
/// event of 1,000 input + 500 output = $0.00045.
/// </summary>
public sealed class UnappliedSpendApiTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 6, 10, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o =>
    {
        o.Time = new FakeTimeProvider(Now);
        o.Settings["LlmCost:Usage:Ingest:RunProjector"] = "false";
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static object Authorize(string user, long maxTokens = 1000) => new
    {
        tenant_id = "acme", user_id = user, provider = "openai", model = "gpt-4o-mini", input_tokens = 1000, max_tokens = maxTokens,
    };

    private static object Usage(string eventId, string user, string? reservationId = null) => new
    {
        event_id = eventId, tenant_id = "acme", user_id = user, provider = "openai", model = "gpt-4o-mini",
        timestamp = "2026-06-10T11:59:00Z", usage = new { input_tokens = 1000, output_tokens = 500 }, reservation_id = reservationId,
    };

    private async Task CreateAsync(string user, string amount)
    {
        var (status, _) = await _host.Client.PostAsync("api/budgets", new { tenant_id = "acme", scope = "user", scope_id = user, amount_usd = amount, period = "daily", mode = "hard" });
        Assert.Equal(201, status);
    }

    private async Task<string> DecisionAsync(object request)
    {
        var (status, body) = await _host.Client.PostAsync("api/budgets/authorize", request);
        Assert.Equal(200, status);
        return body.GetProperty("decision").GetString()!;
    }

    private async Task RecordAsync(object usage)
    {
        var (status, body) = await _host.Client.PostAsync("api/usage", usage);
        Assert.True(status == 200, body.ToString());
    }

    [Fact]
    public async Task Usage_without_a_reservation_counts_in_the_next_authorisation_of_its_user_only()
    {
        await CreateAsync("uma", "0.001");
        await CreateAsync("vic", "0.001");
        Assert.Equal("allow", await DecisionAsync(Authorize("uma", maxTokens: 100)));

        await RecordAsync(Usage("uma-1", "uma"));

        // $0.00021 held + $0.00045 acknowledged: $0.00034 left, less than the next call's $0.00075 worst case.
        Assert.Equal("deny", await DecisionAsync(Authorize("uma")));
        Assert.Equal("allow", await DecisionAsync(Authorize("uma", maxTokens: 100)));
        Assert.Equal("allow", await DecisionAsync(Authorize("vic")));
    }

    [Fact]
    public async Task Usage_under_its_reservation_counts_once_what_the_hold_covers_and_in_full_what_it_does_not()
    {
        // Budgets first: an admin write waits for the projector, which never runs here.
        await CreateAsync("wes", "0.0015");
        await CreateAsync("xia", "0.001");

        // Covered: two worst cases fit; the first call's usage ($0.00045) stays inside its hold ($0.00075).
        var (_, first) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("wes"));
        await RecordAsync(Usage("wes-1", "wes", first.GetProperty("reservation_id").GetString()));
        Assert.Equal("allow", await DecisionAsync(Authorize("wes")));
        Assert.Equal("deny", await DecisionAsync(Authorize("wes", maxTokens: 100)));

        // Not covered: the hold was $0.00021, the call cost $0.00045, so $0.00024 more is spent than was held.
        var (_, small) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("xia", maxTokens: 100));
        Assert.Equal("allow", await DecisionAsync(Authorize("xia", maxTokens: 100)));
        await RecordAsync(Usage("xia-1", "xia", small.GetProperty("reservation_id").GetString()));

        // $0.00042 held + $0.00024 beyond the first hold = $0.00066: $0.00034 left.
        Assert.Equal("deny", await DecisionAsync(Authorize("xia")));
        Assert.Equal("allow", await DecisionAsync(Authorize("xia", maxTokens: 100)));
        Assert.Equal("deny", await DecisionAsync(Authorize("xia", maxTokens: 100)));
    }
}
