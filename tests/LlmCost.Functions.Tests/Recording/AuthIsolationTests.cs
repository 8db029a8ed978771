using System.Text.Json;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Recording;

/// <summary>Roles and isolation: ingest posts only for its tenant; readers read their tenant, or only their user.</summary>
public sealed class AuthIsolationTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2025, 3, 15, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));
        foreach ((string tenant, string user) in new[] { ("acme", "alice"), ("acme", "bob"), ("globex", "gina") })
        {
            (int status, _) = await _host.Client.PostAsync("api/usage", new
            {
                event_id = $"{tenant}-{user}", tenant_id = tenant, user_id = user, team_id = "red", model = "gpt-4o",
                timestamp = "2025-03-15T10:00:00Z", usage = new { input_tokens = 1000, output_tokens = 0 },
            });
            Assert.Equal(200, status);
        }
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static object Usage(string? tenant, string user) => new
    {
        tenant_id = tenant, user_id = user, model = "gpt-4o", timestamp = "2025-03-15T11:00:00Z", usage = new { input_tokens = 1, output_tokens = 1 },
    };

    [Fact]
    public async Task NoKeyOrAWrongKeyIsUnauthorized()
    {
        using HttpClient anonymous = _host.CreateClient(null);
        Assert.Equal(401, (await anonymous.PostAsync("api/usage", Usage("acme", "alice"))).Status);
        Assert.Equal(401, (await anonymous.GetJsonAsync("api/users/alice/usage?tenant_id=acme")).Status);
        using HttpClient forged = _host.CreateClient(LlmCostTestHost.AdminKey + "x");
        Assert.Equal(401, (await forged.GetJsonAsync("api/users/alice/usage?tenant_id=acme")).Status);
    }

    [Fact]
    public async Task IngestKeyPostsForItsOwnTenantOnly()
    {
        using HttpClient ingest = _host.CreateClient(await _host.CreateKeyAsync("ingest", "acme"));
        Assert.Equal(200, (await ingest.PostAsync("api/usage", Usage(null, "alice"))).Status);   // tenant from the key
        Assert.Equal(200, (await ingest.PostAsync("api/usage", Usage("acme", "alice"))).Status);
        (int status, JsonElement problem) = await ingest.PostAsync("api/usage", Usage("globex", "gina"));
        Assert.Equal(403, status);
        Assert.Equal(403, problem.GetProperty("status").GetInt32());
        // Ingest keys cannot read.
        Assert.Equal(403, (await ingest.GetJsonAsync("api/users/alice/usage")).Status);
        // A batch with one foreign event is refused as a whole: nothing of it is stored.
        (int batchStatus, _) = await ingest.PostAsync("api/usage", new { events = new[] { Usage("acme", "bob"), Usage("globex", "gina") } });
        Assert.Equal(403, batchStatus);
        (_, JsonElement bob) = await _host.Client.GetJsonAsync("api/users/bob/usage?tenant_id=acme&from=2025-03-15&to=2025-03-16");
        Assert.Equal(1, bob.GetProperty("total").GetProperty("events").GetInt64());
    }

    [Fact]
    public async Task TenantReaderReadsItsTenantButNotAnother()
    {
        using HttpClient reader = _host.CreateClient(await _host.CreateKeyAsync("reader", "acme"));
        Assert.Equal(200, (await reader.GetJsonAsync("api/users/alice/usage")).Status);
        Assert.Equal(200, (await reader.GetJsonAsync("api/users/bob/usage")).Status);
        Assert.Equal(200, (await reader.GetJsonAsync("api/teams/red/usage")).Status);
        (int status, JsonElement tenant) = await reader.GetJsonAsync("api/tenants/acme/usage?from=2025-03-15&to=2025-03-16");
        Assert.Equal(200, status);
        Assert.Equal(2, tenant.GetProperty("total").GetProperty("events").GetInt64()); // alice and bob, not globex's gina
        Assert.Equal(403, (await reader.GetJsonAsync("api/tenants/globex/usage")).Status);
        Assert.Equal(403, (await reader.GetJsonAsync("api/users/gina/usage?tenant_id=globex")).Status);
        Assert.Equal(403, (await reader.PostAsync("api/usage", Usage("acme", "alice"))).Status); // readers cannot ingest
    }

    [Fact]
    public async Task UserBoundReaderOfAliceGetsForbiddenOnBob()
    {
        using HttpClient alice = _host.CreateClient(await _host.CreateKeyAsync("reader", "acme", "alice"));
        (int status, JsonElement own) = await alice.GetJsonAsync("api/users/alice/usage?from=2025-03-15&to=2025-03-16");
        Assert.Equal(200, status);
        Assert.Equal(1, own.GetProperty("total").GetProperty("events").GetInt64());
        Assert.Equal(200, (await alice.GetJsonAsync("api/users/alice/events?from=2025-03-15&to=2025-03-16")).Status);
        Assert.Equal(403, (await alice.GetJsonAsync("api/users/bob/usage")).Status);
        Assert.Equal(403, (await alice.GetJsonAsync("api/users/bob/events")).Status);
        Assert.Equal(403, (await alice.GetJsonAsync("api/teams/red/usage")).Status);
        Assert.Equal(403, (await alice.GetJsonAsync("api/tenants/acme/usage")).Status);
    }

    [Fact]
    public async Task AdminMustNameTheTenant()
    {
        (int status, JsonElement problem) = await _host.Client.GetJsonAsync("api/users/alice/usage");
        Assert.Equal(400, status);
        Assert.Contains("tenant_id", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        (int postStatus, JsonElement postProblem) = await _host.Client.PostAsync("api/usage", Usage(null, "alice"));
        Assert.Equal(400, postStatus);
        Assert.True(postProblem.GetProperty("errors").TryGetProperty("tenant_id", out _));
    }
}
