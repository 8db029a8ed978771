using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Contract;
using LlmCost.Storage;

namespace LlmCost.Functions.Tests.Deployment;

/// <summary>Two evaluations shared by the tests (each `bicep snapshot` costs seconds): a full configuration and a variant.</summary>
public sealed class TemplateSnapshotFixture : IAsyncLifetime
{
    /// <summary>Salt "s4lt", storage prefix "acme42", SMTP with a user; maximumInstanceCount left at its default (40).</summary>
    public BicepSnapshot Configured { get; private set; } = null!;

    /// <summary>The same environment with another salt, no admin key and no SMTP.</summary>
    public BicepSnapshot Variant { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var configured = BicepSnapshot.RunAsync(new Dictionary<string, object>
        {
            ["environmentName"] = "dev", ["nameSalt"] = "s4lt", ["storagePrefix"] = "acme42", ["smtpHost"] = "smtp.example.test", ["smtpUser"] = "alerts",
        });
        var variant = BicepSnapshot.RunAsync(new Dictionary<string, object>
        {
            ["environmentName"] = "dev", ["nameSalt"] = "e5f6a7b8", ["storagePrefix"] = "acme42", ["enableAdminKey"] = false,
        });
        (Configured, Variant) = (await configured, await variant);
        Assert.True(Configured.ExitCode == 0, Configured.Output);
        Assert.True(Variant.ExitCode == 0, Variant.Output);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// What main.bicep would deploy for given parameters, evaluated locally (`bicep snapshot`): valid names for every
/// accepted environment name, rejection of the rest before anything is created, names that change with the salt,
/// the app settings the generated function.json files need, and the roles.
/// </summary>
public partial class TemplateSnapshotTests(TemplateSnapshotFixture fixture) : IClassFixture<TemplateSnapshotFixture>
{
    private static Dictionary<string, object> Parameters(string environment = "dev", params (string Name, object Value)[] more)
    {
        var parameters = new Dictionary<string, object> { ["environmentName"] = environment, ["nameSalt"] = "s4lt" };
        foreach (var (name, value) in more)
        {
            parameters[name] = value;
        }

        return parameters;
    }

    private static async Task<BicepSnapshot> SnapshotAsync(Dictionary<string, object> parameters)
    {
        var snapshot = await BicepSnapshot.RunAsync(parameters);
        Assert.True(snapshot.ExitCode == 0, snapshot.Output);
        return snapshot;
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("abcdefgh")]
    public async Task Every_resource_name_follows_its_naming_rules_for_an_accepted_environment_name(string environment)
    {
        // The longest name also carries the largest instance count Flex Consumption accepts.
        var snapshot = await SnapshotAsync(Parameters(environment, ("maximumInstanceCount", environment.Length == 8 ? 1000 : 40)));
        string Name(string type) => (string)snapshot.Single(type)["name"]!;

        // Key Vault: 3-24, letters, digits and hyphens, starting with a letter, ending with a letter or digit, no "--".
        Assert.Matches(KeyVaultName(), Name("Microsoft.KeyVault/vaults"));
        Assert.DoesNotContain("--", Name("Microsoft.KeyVault/vaults"), StringComparison.Ordinal);
        // Storage account: 3-24 lower-case letters and digits.
        Assert.Matches("^[a-z0-9]{3,24}$", Name("Microsoft.Storage/storageAccounts"));
        // Containers and queues: 3-63 lower-case letters, digits and single hyphens, starting with a letter or digit.
        foreach (var child in snapshot.All("Microsoft.Storage/storageAccounts/blobServices/containers")
                     .Concat(snapshot.All("Microsoft.Storage/storageAccounts/queueServices/queues")))
        {
            var name = ((string)child["name"]!).Split('/').Last();
            Assert.Matches("^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$", name);
        }

        foreach (var table in snapshot.All("Microsoft.Storage/storageAccounts/tableServices/tables"))
        {
            Assert.Matches("^[A-Za-z][A-Za-z0-9]{2,62}$", ((string)table["name"]!).Split('/').Last());
        }

        // Function app (a host name) and plan: letters, digits, hyphens; the app 2-60 and not starting or ending with one.
        Assert.Matches("^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$", Name("Microsoft.Web/sites"));
        Assert.Matches("^[A-Za-z0-9-]{1,60}$", Name("Microsoft.Web/serverfarms"));
        // Identity 3-128 starting with a letter or digit; Log Analytics 4-63 letters, digits, hyphens, alphanumeric ends.
        Assert.Matches("^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$", Name("Microsoft.ManagedIdentity/userAssignedIdentities"));
        Assert.Matches("^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$", Name("Microsoft.OperationalInsights/workspaces"));
        Assert.Matches("^[^%&\\\\?/]{1,260}$", Name("Microsoft.Insights/components"));
    }

    [Theory]
    [InlineData("Dev")]
    [InlineData("dev-1")]
    [InlineData("1dev")]
    public async Task Environment_names_that_would_make_an_invalid_resource_name_are_refused_before_anything_is_created(string environment)
    {
        var snapshot = await BicepSnapshot.RunAsync(Parameters(environment));
        Assert.NotEqual(0, snapshot.ExitCode);
        Assert.Contains("environmentName must be 2-8 lower-case letters or digits", snapshot.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("environmentName", "d", "too short")]
    [InlineData("storagePrefix", "abcdefghijabcdefghijk", "too long")]
    public async Task Too_short_or_too_long_names_are_refused(string parameter, string value, string problem)
    {
        var snapshot = await BicepSnapshot.RunAsync(Parameters("dev", (parameter, value)));
        Assert.NotEqual(0, snapshot.ExitCode);
        Assert.Contains(problem, snapshot.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Acme")]
    [InlineData("ac-me")]
    public async Task Storage_prefixes_that_would_make_invalid_table_or_queue_names_are_refused(string prefix)
    {
        var snapshot = await BicepSnapshot.RunAsync(Parameters("dev", ("storagePrefix", prefix)));
        Assert.NotEqual(0, snapshot.ExitCode);
        Assert.Contains("storagePrefix must be 3-20 lower-case letters or digits", snapshot.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(39)]
    [InlineData(1001)]
    public async Task Maximum_instance_count_outside_what_flex_consumption_accepts_is_refused(int count)
    {
        var snapshot = await BicepSnapshot.RunAsync(Parameters("dev", ("maximumInstanceCount", count)));
        Assert.NotEqual(0, snapshot.ExitCode);
        Assert.Contains(count < 40 ? "minimum allowable value is 40" : "maximum allowable value is 1000", snapshot.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_new_salt_gives_new_globally_unique_names()
    {
        foreach (var type in new[] { "Microsoft.KeyVault/vaults", "Microsoft.Storage/storageAccounts", "Microsoft.Web/sites", "Microsoft.ManagedIdentity/userAssignedIdentities" })
        {
            Assert.NotEqual((string?)fixture.Configured.Single(type)["name"], (string?)fixture.Variant.Single(type)["name"]);
        }

        // The default instance count is the platform minimum.
        Assert.Equal(40, (int)fixture.Configured.Single("Microsoft.Web/sites")["properties"]!["functionAppConfig"]!["scaleAndConcurrency"]!["maximumInstanceCount"]!);
    }

    [Fact]
    public async Task The_app_settings_name_every_queue_the_function_json_files_use_and_leave_resources_to_the_template()
    {
        var snapshot = fixture.Configured;
        var settings = snapshot.AppSettings;

        Assert.Equal("acme42", settings["LlmCost__Storage__Prefix"]);
        Assert.Equal("false", settings["LlmCost__Storage__CreateResources"]);
        Assert.Equal("FunctionsHost", settings["LlmCost__Hosting__Mode"]);

        // Every %setting% in the checked-in function.json files (what is deployed) is set, to the name the app writes.
        var functions = Path.Combine(TestEnvironment.RepoRoot, "functions");
        var referenced = Directory.GetFiles(functions, FunctionManifest.FunctionJsonFileName, SearchOption.AllDirectories)
            .Select(f => FunctionManifest.ReadFunctionJson(Path.GetFileName(Path.GetDirectoryName(f))!, File.ReadAllText(f)))
            .Where(d => d.Trigger == TriggerKind.Queue)
            .SelectMany(d => AppSettingExpressions.SettingNames(d.QueueName))
            .ToList();
        Assert.Contains("LLMCOST_ALERTS_QUEUE", referenced);
        foreach (var setting in referenced)
        {
            Assert.True(settings.ContainsKey(setting), $"function.json refers to %{setting}%, which the template does not set");
        }

        Assert.Equal("acme42-alerts", settings[StorageNames.QueueSetting("alerts")]);
        // One queue setting per declared queue, each created by the template with its poison twin.
        var declared = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(TestEnvironment.RepoRoot, "infra-bicep", "storage-resources.json")))!;
        var queues = snapshot.All("Microsoft.Storage/storageAccounts/queueServices/queues").Select(q => ((string)q["name"]!).Split('/').Last()).ToHashSet();
        foreach (var logical in declared["queues"]!.AsArray().Select(q => (string)q!))
        {
            Assert.Equal($"acme42-{logical}", settings[StorageNames.QueueSetting(logical)]);
            Assert.Contains($"acme42-{logical}", queues);
            Assert.Contains($"acme42-{logical}-poison", queues);
        }

        // App setting names the Functions host and Linux accept: no ':' anywhere.
        Assert.All(settings.Keys, name => Assert.DoesNotContain(':', name));
    }

    [Fact]
    public void Secrets_are_key_vault_references_and_a_rerun_without_the_values_keeps_them()
    {
        var snapshot = fixture.Configured;
        var settings = snapshot.AppSettings;
        var vault = (string)snapshot.Single("Microsoft.KeyVault/vaults")["name"]!;
        Assert.Equal($"@Microsoft.KeyVault(VaultName={vault};SecretName=admin-key)", settings["LlmCost__AdminKey"]);
        Assert.Equal($"@Microsoft.KeyVault(VaultName={vault};SecretName=smtp-password)", settings["LlmCost__Alerts__SmtpPassword"]);
        Assert.Equal("alerts", settings["LlmCost__Alerts__SmtpUser"]);

        // Without a value (a rerun), a secret resource is not deployed: the stored secret stays as it is.
        foreach (var secret in snapshot.All("Microsoft.KeyVault/vaults/secrets"))
        {
            Assert.Contains("not(empty(parameters(", (string?)secret["condition"] ?? "(unconditional)", StringComparison.Ordinal);
        }

        var noAdmin = fixture.Variant;
        Assert.False(noAdmin.AppSettings.ContainsKey("LlmCost__AdminKey"));
        Assert.False(noAdmin.AppSettings.ContainsKey("LlmCost__Alerts__SmtpPassword"));
    }

    [Fact]
    public void The_app_identity_gets_exactly_the_data_roles_it_needs()
    {
        var snapshot = fixture.Configured;
        var roles = snapshot.All("Microsoft.Authorization/roleAssignments")
            .Select(r => (Role: ((string)r["properties"]!["roleDefinitionId"]!).Split('/').Last(), Scope: ((string)r["id"]!).Split("/providers/Microsoft.Authorization")[0].Split('/')[^2]))
            .OrderBy(r => r.Role, StringComparer.Ordinal)
            .ToList();
        Assert.Equal(
            new[]
            {
                ("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", "storageAccounts"), // Storage Table Data Contributor
                ("3913510d-42f4-4e42-8a64-420c390055eb", "components"), // Monitoring Metrics Publisher on Application Insights
                ("4633458b-17de-408a-b874-0445c86b69e6", "vaults"), // Key Vault Secrets User
                ("974c5e8b-45b9-4653-ba55-5f855dd0fb88", "storageAccounts"), // Storage Queue Data Contributor
                ("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "storageAccounts"), // Storage Blob Data Owner (host storage)
            },
            roles);
        Assert.All(snapshot.All("Microsoft.Authorization/roleAssignments"), r => Assert.Equal("ServicePrincipal", (string?)r["properties"]!["principalType"]));
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")]
    private static partial Regex KeyVaultName();
}
