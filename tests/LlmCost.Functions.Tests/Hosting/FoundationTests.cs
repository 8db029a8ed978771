using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LlmCost.Functions.Tests.Infrastructure;

namespace LlmCost.Functions.Tests.Hosting;

public sealed class FoundationTests : IAsyncLifetime
{
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task RootAnswersWithoutAKey()
    {
        using HttpClient anonymous = _host.CreateClient(null);
        HttpResponseMessage response = await anonymous.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task KeysEndpointsNeedAnAdminKey()
    {
        using HttpClient anonymous = _host.CreateClient(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(new Uri("api/keys", UriKind.Relative))).StatusCode);

        using HttpClient wrong = _host.CreateClient("llmc_0000000000000000_nope");
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync(new Uri("api/keys", UriKind.Relative))).StatusCode);

        HttpResponseMessage created = await _host.Client.PostAsJsonAsync(new Uri("api/keys", UriKind.Relative),
            new { role = "reader", tenant_id = "acme", user_id = "alice" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using JsonDocument body = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        string readerKey = body.RootElement.GetProperty("api_key").GetString()!;
        string keyId = body.RootElement.GetProperty("key_id").GetString()!;

        // A reader key authenticates but is not an admin: 403, not 401.
        using HttpClient reader = _host.CreateClient(readerKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.GetAsync(new Uri("api/keys", UriKind.Relative))).StatusCode);

        // Only the hash is stored, never the key.
        var table = TestStorage.Table(_host, "apikeys");
        var row = (await table.GetEntityAsync<Azure.Data.Tables.TableEntity>("key", keyId)).Value;
        Assert.DoesNotContain(((IDictionary<string, object>)row).Values, v => v is string s && s.Contains(readerKey["llmc_".Length..].Split('_')[1], StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.NoContent, (await _host.Client.DeleteAsync(new Uri($"api/keys/{keyId}", UriKind.Relative))).StatusCode);
        using HttpClient revoked = _host.CreateClient(readerKey);
        Assert.Equal(HttpStatusCode.Unauthorized, (await revoked.GetAsync(new Uri("api/keys", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task CreatingAKeyWithAnUnknownRoleNamesTheField()
    {
        HttpResponseMessage response = await _host.Client.PostAsJsonAsync(new Uri("api/keys", UriKind.Relative), new { role = "root", tenant_id = "acme" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("role", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
