using System.Net.Http.Json;
using System.Text.Json;

namespace LlmCost.Functions.Tests.Infrastructure;

/// <summary>Small helpers to post JSON and read answers as <see cref="JsonElement"/>s.</summary>
public static class HttpJson
{
    public static async Task<(int Status, JsonElement Body)> PostAsync(this HttpClient client, string path, object body)
    {
        ArgumentNullException.ThrowIfNull(client);
        using HttpResponseMessage response = await client.PostAsJsonAsync(new Uri(path, UriKind.Relative), body);
        return ((int)response.StatusCode, await ReadAsync(response));
    }

    public static async Task<(int Status, JsonElement Body)> PostRawAsync(this HttpClient client, string path, string json)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await client.PostAsync(new Uri(path, UriKind.Relative), content);
        return ((int)response.StatusCode, await ReadAsync(response));
    }

    public static async Task<(int Status, JsonElement Body)> GetJsonAsync(this HttpClient client, string path)
    {
        ArgumentNullException.ThrowIfNull(client);
        using HttpResponseMessage response = await client.GetAsync(new Uri(path, UriKind.Relative));
        return ((int)response.StatusCode, await ReadAsync(response));
    }

    /// <summary>Creates a key through the admin API and returns the plain key.</summary>
    public static async Task<string> CreateKeyAsync(this LlmCostTestHost host, string role, string? tenantId, string? userId = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        (int status, JsonElement body) = await host.Client.PostAsync("api/keys", new { role, tenant_id = tenantId, user_id = userId });
        Assert.Equal(201, status);
        return body.GetProperty("api_key").GetString()!;
    }

    public static decimal Money(this JsonElement element, string property)
    {
        JsonElement value = element.GetProperty(property);
        Assert.Equal(JsonValueKind.String, value.ValueKind); // money on the wire is a decimal string
        return decimal.Parse(value.GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }
}
