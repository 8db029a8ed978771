using System.Net;
using System.Text.Json;
using LlmCost.Functions.Apis.Operations;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Contract;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Tests.Hosting;

/// <summary>
/// A Key Vault reference App Service could not resolve reaches the app as its literal text. The app never takes
/// that text for the secret: the setting is refused (as if unset), /api/health is 503 naming the setting (never
/// the value), the log says so, and a restart with the resolved value is healthy again.
/// </summary>
public class UnresolvedReferenceTests
{
    private const string Vault = "kv-dev-guessable42";

    [Theory]
    [InlineData("@Microsoft.KeyVault(VaultName=kv;SecretName=admin-key)", true)]
    [InlineData("  @microsoft.keyvault ( SecretUri=https://kv.vault.azure.net/secrets/admin-key/ )", true)]
    [InlineData("@ Microsoft . KeyVault(VaultName=kv;SecretName=x)", true)]
    [InlineData("\t@MICROSOFT.KEYVAULT(VaultName=kv;SecretName=x)\n", true)]
    [InlineData("@Microsoft.AppConfiguration(Endpoint=https://x.azconfig.io; Key=k)", true)]
    [InlineData("prefix @Microsoft.KeyVault(VaultName=kv;SecretName=x)", true)]
    [InlineData("dev-admin-key-change-me", false)]
    [InlineData("Microsoft.KeyVault(VaultName=kv;SecretName=x)", false)]
    [InlineData("@Microsoft.KeyVaults", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Unresolved_references_are_recognised_in_any_case_and_spacing(string? value, bool unresolved) =>
        Assert.Equal(unresolved, UnresolvedReferences.IsUnresolvedReference(value));

    [Theory]
    [InlineData("LLMCOST_ADMIN_KEY", "LLMCOST_ADMIN_KEY")]
    [InlineData("LlmCost:AdminKey", "LlmCost__AdminKey")]
    public async Task An_unresolved_admin_key_is_refused_and_health_names_the_setting(string setting, string reported)
    {
        var reference = $" @microsoft.KeyVault (VaultName={Vault};SecretName=admin-key)";
        await using var host = await LlmCostTestHost.StartAsync(o =>
        {
            o.Settings["LLMCOST_ADMIN_KEY"] = null;
            o.Settings[setting] = reference;
        });

        // Whoever read the reference (it names the vault) cannot use it as the admin key; no admin key works at all.
        using var withReference = host.CreateClient(reference.Trim());
        Assert.Equal(HttpStatusCode.Unauthorized, (await withReference.GetAsync(new Uri("api/keys", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client.GetAsync(new Uri("api/keys", UriKind.Relative))).StatusCode);

        using var anonymous = host.CreateClient(null);
        using var health = await anonymous.GetAsync(new Uri("api/health", UriKind.Relative));
        var body = await health.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("application/problem+json", health.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(body);
        Assert.Equal([reported], json.RootElement.GetProperty("settings").EnumerateArray().Select(s => s.GetString()));
        Assert.Contains("unresolved Key Vault reference", json.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Vault, body, StringComparison.Ordinal);
        Assert.DoesNotContain("KeyVault(", body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task An_unresolved_smtp_password_never_reaches_the_smtp_client()
    {
        await using var host = await LlmCostTestHost.StartAsync(o =>
        {
            o.Settings["LlmCost:Alerts:SmtpHost"] = "smtp.example.test";
            o.Settings["LlmCost:Alerts:SmtpUser"] = "alerts";
            o.Settings["LlmCost:Alerts:SmtpPassword"] = $"@Microsoft.KeyVault(VaultName={Vault};SecretName=smtp-password)";
        });

        var options = host.Services.GetRequiredService<IOptions<AlertDeliveryOptions>>().Value;
        Assert.Null(options.SmtpPassword);
        Assert.Equal("alerts", options.SmtpUser);
        using var anonymous = host.CreateClient(null);
        var (status, health) = await anonymous.GetJsonAsync("api/health");
        Assert.Equal(503, status);
        Assert.Equal(["LlmCost__Alerts__SmtpPassword"], health.GetProperty("settings").EnumerateArray().Select(s => s.GetString()));
        // The admin key (a real value) still works: only the unresolved setting is refused.
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync(new Uri("api/keys", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task Started_as_the_functions_host_starts_it_the_app_refuses_the_reference_logs_it_and_recovers_after_a_restart()
    {
        var prefix = TestEnvironment.NewPrefix();
        var appRoot = Directory.CreateTempSubdirectory("llmcost-kvref-").FullName;
        var settings = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = TestEnvironment.StorageConnectionString,
            ["LlmCost__Storage__Prefix"] = prefix,
            [LlmCost.Storage.StorageNames.QueueSetting("alerts")] = $"{prefix}-alerts",
            // As App Service passes a reference it could not resolve (the identity's role had not propagated yet).
            ["LlmCost__AdminKey"] = $"@Microsoft.KeyVault(VaultName={Vault};SecretName=admin-key)",
        };
        try
        {
            await using (var app = await AppProcess.StartAsHostWouldAsync(appRoot, settings))
            {
                using var withReference = new HttpClient { BaseAddress = app.Client.BaseAddress };
                withReference.DefaultRequestHeaders.Authorization = new("Bearer", settings["LlmCost__AdminKey"]);
                Assert.Equal(HttpStatusCode.Unauthorized, (await withReference.GetAsync(new Uri("/api/keys", UriKind.Relative))).StatusCode);
                using var health = await app.Client.GetAsync(new Uri("/api/health", UriKind.Relative));
                var body = await health.Content.ReadAsStringAsync();
                Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
                Assert.Contains("LlmCost__AdminKey", body, StringComparison.Ordinal);
                Assert.DoesNotContain(Vault, body, StringComparison.Ordinal);
                // The log names the setting, never its value.
                Assert.Contains("Configuration: LlmCost__AdminKey holds an unresolved Key Vault reference", app.Output, StringComparison.Ordinal);
                Assert.DoesNotContain(Vault, app.Output, StringComparison.Ordinal);
            }

            // The reference resolved (references refreshed, app restarted): the real key works and health is green.
            settings["LlmCost__AdminKey"] = "resolved-admin-key-0123456789abcdef";
            await using (var app = await AppProcess.StartAsHostWouldAsync(appRoot, settings))
            {
                using var admin = new HttpClient { BaseAddress = app.Client.BaseAddress };
                admin.DefaultRequestHeaders.Authorization = new("Bearer", settings["LlmCost__AdminKey"]);
                Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri("/api/keys", UriKind.Relative))).StatusCode);
                using var health = await app.Client.GetAsync(new Uri("/api/health", UriKind.Relative));
                Assert.True(health.StatusCode == HttpStatusCode.OK, await health.Content.ReadAsStringAsync() + "\n" + app.Output);
            }
        }
        finally
        {
            Directory.Delete(appRoot, recursive: true);
        }
    }
}
