using System.Text.Json.Nodes;
using LlmCost.Functions.Tests.Contract;

namespace LlmCost.Functions.Tests.Deployment;

/// <summary>One `bicep build` of main.bicep shared by the tests (the CLI takes seconds to start).</summary>
public sealed class BicepBuildFixture : IAsyncLifetime
{
    public int ExitCode { get; private set; }

    public string Template { get; private set; } = "";

    public string Diagnostics { get; private set; } = "";

    public async Task InitializeAsync() => (ExitCode, Template, Diagnostics) = await BicepTests.RunSplitAsync("build", BicepTests.MainBicep, "--stdout");

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>infra-bicep/main.bicep builds and lints with zero errors and zero warnings, and says what the app needs.</summary>
public class BicepTests(BicepBuildFixture build) : IClassFixture<BicepBuildFixture>
{
    internal static string MainBicep => Path.Combine(TestEnvironment.RepoRoot, "infra-bicep", "main.bicep");

    private static string Bicep =>
        Environment.GetEnvironmentVariable("LLMCOST_BICEP") is { Length: > 0 } path && File.Exists(path)
            ? path
            : throw new InvalidOperationException(
                "LLMCOST_BICEP does not name the bicep binary: run ./test.sh (its scripts/test.d/bicep.sh hook restores the CLI from NuGet), " +
                "or `source scripts/bicep.sh && ensure_bicep`.");

    [Fact]
    public void Main_bicep_builds_without_errors_or_warnings()
    {
        Assert.True(build.ExitCode == 0, build.Diagnostics);
        Assert.DoesNotContain(": Warning ", build.Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain(": Error ", build.Diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Main_bicep_lints_without_errors_or_warnings()
    {
        var (exitCode, output) = await RunAsync("lint", MainBicep);
        Assert.True(exitCode == 0, output);
        Assert.True(output.Trim().Length == 0, "bicep lint reported:\n" + output);
    }

    [Fact]
    public async Task The_template_deploys_what_the_app_needs_and_nothing_weaker()
    {
        Assert.Equal(0, build.ExitCode);
        var stdout = build.Template;
        var resources = Resources(JsonNode.Parse(stdout)!).ToList();

        var storage = Assert.Single(resources, r => Type(r) == "Microsoft.Storage/storageAccounts");
        Assert.Equal("TLS1_2", (string?)storage["properties"]!["minimumTlsVersion"]);
        Assert.False((bool)storage["properties"]!["allowBlobPublicAccess"]!);
        Assert.False((bool)storage["properties"]!["allowSharedKeyAccess"]!);

        var site = Assert.Single(resources, r => Type(r) == "Microsoft.Web/sites");
        Assert.Equal("custom", (string?)site["properties"]!["functionAppConfig"]!["runtime"]!["name"]);
        var plan = Assert.Single(resources, r => Type(r) == "Microsoft.Web/serverfarms");
        Assert.Equal("FlexConsumption", (string?)plan["sku"]!["tier"]);
        Assert.Equal("UserAssigned", (string?)site["identity"]!["type"]);
        // Identity-based host storage (the settings are built in a copy loop over these names).
        Assert.Contains("\"AzureWebJobsStorage__accountName\"", stdout, StringComparison.Ordinal);
        Assert.Contains("\"AzureWebJobsStorage__credential\": \"managedidentity\"", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("AccountKey=", stdout, StringComparison.Ordinal);
        Assert.Contains("@Microsoft.KeyVault(", stdout, StringComparison.Ordinal);

        // Five role assignments: Storage Blob Data Owner (the host's own storage needs it), the queue and table data
        // roles, Key Vault Secrets User, Monitoring Metrics Publisher; no control-plane role (Owner, Contributor,
        // Storage Account Contributor, Key Vault Administrator).
        Assert.Equal(5, resources.Count(r => Type(r) == "Microsoft.Authorization/roleAssignments"));
        string[] granted =
        [
            "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "974c5e8b-45b9-4653-ba55-5f855dd0fb88", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
            "4633458b-17de-408a-b874-0445c86b69e6", "3913510d-42f4-4e42-8a64-420c390055eb",
        ];
        Assert.All(granted, role => Assert.Contains(role, stdout, StringComparison.Ordinal));
        string[] tooBroad =
        [
            "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c",
            "17d1049b-9a84-46fb-8f53-869881c3d3ab", "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        ];
        Assert.All(tooBroad, role => Assert.DoesNotContain(role, stdout, StringComparison.Ordinal));

        // Tables, queues (+ poison) and containers come from storage-resources.json, the app's own declarations.
        var declared = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(TestEnvironment.RepoRoot, "infra-bicep", "storage-resources.json")))!;
        Assert.NotNull(Assert.Single(resources, r => Type(r) == "Microsoft.Storage/storageAccounts/tableServices/tables")["copy"]);
        Assert.NotEmpty(declared["tables"]!.AsArray());
        Assert.Contains(resources, r => Type(r) == "Microsoft.Storage/storageAccounts/queueServices/queues");
    }

    private static string? Type(JsonNode resource) => (string?)resource["type"];

    /// <summary>Every resource, including those inside module (nested deployment) templates.</summary>
    private static IEnumerable<JsonNode> Resources(JsonNode template)
    {
        var resources = template["resources"];
        IEnumerable<JsonNode> list = resources switch
        {
            JsonArray array => array.OfType<JsonNode>(),
            JsonObject map => map.Select(p => p.Value).OfType<JsonNode>(),
            _ => [],
        };
        foreach (var resource in list)
        {
            yield return resource;
            if (resource["properties"]?["template"] is { } nested)
            {
                foreach (var inner in Resources(nested))
                {
                    yield return inner;
                }
            }
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(params string[] arguments)
    {
        var (exitCode, stdout, stderr) = await RunSplitAsync(arguments);
        return (exitCode, stdout + stderr);
    }

    internal static Task<(int ExitCode, string Stdout, string Stderr)> RunSplitAsync(params string[] arguments) =>
        ProcessRunner.RunAsync(Bicep, arguments, timeout: TimeSpan.FromMinutes(2));
}
