using System.Net;
using System.Net.Http.Json;
using LlmCost.Core.Budgets;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Storage;
using LlmCost.Storage.Budgets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Budgets;

/// <summary>
/// Reservations through real Kestrel and Azurite: the caller's lifetime, explicit release, the check that a usage
/// event may only settle its own user's reservation, and 503 (never 500) when budget storage is unreachable.
/// gpt-4o-mini worst case of 1,000 input + 1,000 max output = $0.00075.
/// </summary>
public sealed class BudgetReservationApiTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 6, 10, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static object Authorize(string user, long? ttl = null) => new
    {
        tenant_id = "acme", user_id = user, provider = "openai", model = "gpt-4o-mini", input_tokens = 1000, max_tokens = 1000, ttl_seconds = ttl,
    };

    private static object Usage(string eventId, string user, string? reservationId, string? keyId = null) => new
    {
        event_id = eventId, tenant_id = "acme", user_id = user, provider = "openai", model = "gpt-4o-mini",
        timestamp = "2026-06-10T11:59:00Z", usage = new { input_tokens = 1000, output_tokens = 500 }, reservation_id = reservationId, key_id = keyId,
    };

    private async Task<string> CreateAsync(string user, string amount)
    {
        var (status, created) = await _host.Client.PostAsync("api/budgets", new { tenant_id = "acme", scope = "user", scope_id = user, amount_usd = amount, period = "daily", mode = "hard" });
        Assert.Equal(201, status);
        return created.GetProperty("budget_id").GetString()!;
    }

    [Fact]
    public async Task The_caller_chooses_the_lifetime_is_told_it_and_can_release_a_reservation_it_will_not_use()
    {
        var id = await CreateAsync("rita", "0.00075");
        var (_, first) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("rita", ttl: 45));
        var reservation = first.GetProperty("reservation_id").GetString()!;
        Assert.Equal(Now.AddSeconds(45), first.GetProperty("expires_at").GetDateTimeOffset());
        var (_, full) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("rita"));
        Assert.Equal("deny", full.GetProperty("decision").GetString());

        var (released, body) = await _host.Client.PostAsync($"api/budgets/reservations/{reservation}/release", new { tenant_id = "acme", user_id = "rita" });
        var (again, againBody) = await _host.Client.PostAsync($"api/budgets/reservations/{reservation}/release", new { tenant_id = "acme" });
        var (unknown, _) = await _host.Client.PostAsync("api/budgets/reservations/rsv_20260610aaaaaaaaaaaaaaaaaaaaaaaa/release", new { tenant_id = "acme" });
        var (malformed, problem) = await _host.Client.PostAsync("api/budgets/reservations/not-one/release", new { tenant_id = "acme" });
        var (badTtl, ttlProblem) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("rita", ttl: 0));

        Assert.Equal(200, released);
        Assert.Equal("released", body.GetProperty("status").GetString());
        Assert.Equal(200, again);
        Assert.Equal("already_closed", againBody.GetProperty("status").GetString());
        Assert.Equal(404, unknown);
        Assert.Equal(400, malformed);
        Assert.True(problem.GetProperty("errors").TryGetProperty("reservation_id", out _));
        Assert.Equal(400, badTtl);
        Assert.True(ttlProblem.GetProperty("errors").TryGetProperty("ttl_seconds", out _));
        var (_, status) = await _host.Client.GetJsonAsync($"api/budgets/{id}/status");
        Assert.Equal(0m, status.Money("reserved_usd"));
        Assert.Equal(0, status.GetProperty("active_reservations").GetInt64());
        var (_, next) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("rita"));
        Assert.Equal("allow", next.GetProperty("decision").GetString());
    }

    [Fact]
    public async Task An_event_naming_another_users_or_an_unknown_reservation_is_refused_naming_the_field_and_nothing_is_recorded()
    {
        var alicesBudget = await CreateAsync("alice", "1");
        var (_, alice) = await _host.Client.PostAsync("api/budgets/authorize", Authorize("alice"));
        var reservation = alice.GetProperty("reservation_id").GetString()!;
        var (_, keyed) = await _host.Client.PostAsync("api/budgets/authorize", new
        {
            tenant_id = "acme", user_id = "alice", key_id = "key-7", provider = "openai", model = "gpt-4o-mini", input_tokens = 1000, max_tokens = 1000,
        });
        var keyedReservation = keyed.GetProperty("reservation_id").GetString()!;

        var (foreign, foreignProblem) = await _host.Client.PostAsync("api/usage", Usage("bob-1", "bob", reservation));
        var (unknown, _) = await _host.Client.PostAsync("api/usage", Usage("alice-x", "alice", "rsv_20260610bbbbbbbbbbbbbbbbbbbbbbbb"));
        var (batch, batchProblem) = await _host.Client.PostAsync("api/usage", new { events = new[] { Usage("alice-ok", "alice", reservation), Usage("bob-2", "bob", reservation) } });
        var (wrongKey, keyProblem) = await _host.Client.PostAsync("api/usage", Usage("alice-k", "alice", keyedReservation, keyId: "key-8"));
        var (rightKey, _) = await _host.Client.PostAsync("api/usage", Usage("alice-k", "alice", keyedReservation, keyId: "key-7"));

        Assert.Equal(400, foreign);
        Assert.True(foreignProblem.GetProperty("errors").TryGetProperty("reservation_id", out _), foreignProblem.ToString());
        Assert.Equal(400, unknown);
        Assert.Equal(400, batch);
        Assert.True(batchProblem.GetProperty("errors").TryGetProperty("events[1].reservation_id", out _), batchProblem.ToString());
        Assert.Equal(400, wrongKey);
        Assert.True(keyProblem.GetProperty("errors").TryGetProperty("key_id", out _), keyProblem.ToString());
        Assert.Equal(200, rightKey);

        // Nothing of the refused requests was recorded; alice's first hold is still held.
        var (_, events) = await _host.Client.GetJsonAsync("api/users/bob/events?tenant_id=acme&from=2026-06-10&to=2026-06-11");
        Assert.Equal(0, events.GetProperty("events").GetArrayLength());
        var (_, status) = await _host.Client.GetJsonAsync($"api/budgets/{alicesBudget}/status");
        Assert.Equal(0.00075m, status.Money("reserved_usd"));
        Assert.Equal(0.00045m, status.Money("spent_usd"));
    }

    [Fact]
    public async Task Budget_storage_that_cannot_be_reached_answers_503_with_retry_after_never_500()
    {
        // A second host whose budget store talks to a port nobody listens on (the rest of the app is healthy).
        await using var broken = await LlmCostTestHost.StartAsync(o => o.ConfigureServices = services => services.AddSingleton(sp => new TableBudgetStore(
            new LlmCostStorage(
                new ConfigurationBuilder().AddInMemoryCollection([new(LlmCostStorage.ConnectionSetting,
                    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;")]).Build(),
                sp.GetRequiredService<StorageNames>()),
            TimeProvider.System)));

        using var response = await broken.Client.PostAsJsonAsync(new Uri("api/budgets/authorize", UriKind.Relative), Authorize("anyone"));
        using var status = await broken.Client.GetAsync(new Uri("api/budgets?tenant_id=acme", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), response.Headers.ToString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status.StatusCode);
    }
}
