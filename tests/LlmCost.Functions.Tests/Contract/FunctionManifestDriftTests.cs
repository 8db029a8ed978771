using System.Text.Json.Nodes;
using LlmCost.Functions.Hosting;

namespace LlmCost.Functions.Tests.Contract;

/// <summary>The checked-in host.json and functions/*/function.json are exactly what the code defines.</summary>
public class FunctionManifestDriftTests
{
    private const string Regenerate = "run scripts/generate-functions.sh and commit the result";

    [Fact]
    public async Task Checked_in_function_json_files_and_host_json_match_the_definitions_in_code()
    {
        var output = Path.Combine(Path.GetTempPath(), "llmcost-drift-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (exitCode, log) = await AppProcess.RunToCompletionAsync(
                ["--generate-functions", Path.Combine(output, "functions"), "--generate-host-json", Path.Combine(output, "host.json"),
                 "--describe-storage", Path.Combine(output, "storage-resources.json"),
                 "--LlmCost:Hosting:DiagnosticFunctions=false", "--LlmCost:Storage:Prefix=llmcost"]);
            Assert.True(exitCode == 0, log);

            var expected = FunctionFiles(Path.Combine(output, "functions"));
            var actual = FunctionFiles(Path.Combine(TestEnvironment.RepoRoot, "functions"));
            Assert.True(
                expected.Keys.Order().SequenceEqual(actual.Keys.Order()),
                $"functions/ holds [{string.Join(", ", actual.Keys.Order())}] but the code defines [{string.Join(", ", expected.Keys.Order())}]: {Regenerate}");
            foreach (var (name, json) in expected)
            {
                Assert.True(json == actual[name], $"functions/{name}/function.json differs from the code's definition: {Regenerate}\nexpected:\n{json}\nactual:\n{actual[name]}");
            }

            var hostJson = await File.ReadAllTextAsync(Path.Combine(TestEnvironment.RepoRoot, "host.json"));
            Assert.True(await File.ReadAllTextAsync(Path.Combine(output, "host.json")) == hostJson, $"host.json differs from the code's settings: {Regenerate}");

            // main.bicep creates the tables, queues and containers listed here: the ones the app declares.
            var storage = await File.ReadAllTextAsync(Path.Combine(TestEnvironment.RepoRoot, "infra-bicep", "storage-resources.json"));
            Assert.True(
                await File.ReadAllTextAsync(Path.Combine(output, "storage-resources.json")) == storage,
                $"infra-bicep/storage-resources.json differs from the storage the app declares: {Regenerate}");
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    [Fact]
    public void Host_json_follows_the_reference_contract()
    {
        var host = JsonNode.Parse(FunctionManifest.HostJson())!;
        Assert.Equal("2.0", (string?)host["version"]);
        Assert.Equal("app/LlmCost.Functions", (string?)host["customHandler"]!["description"]!["defaultExecutablePath"]);
        Assert.True((bool)host["customHandler"]!["enableForwardingHttpRequest"]!);
        Assert.Equal("[4.*, 5.0.0)", (string?)host["extensionBundle"]!["version"]);
        Assert.Equal(5, (int)host["extensions"]!["queues"]!["maxDequeueCount"]!);
        Assert.Equal("00:00:30", (string?)host["extensions"]!["queues"]!["visibilityTimeout"]);
        Assert.Equal("base64", (string?)host["extensions"]!["queues"]!["messageEncoding"]);
        Assert.Equal(string.Empty, (string?)host["extensions"]!["http"]!["routePrefix"]);
    }

    [Fact]
    public void An_http_function_has_exactly_http_trigger_in_and_http_out_so_the_host_forwards_it()
    {
        var json = JsonNode.Parse(FunctionManifest.FunctionJson(new FunctionDefinition
        {
            Name = "GetUserUsage", Trigger = TriggerKind.Http, Route = "api/users/{userId}/usage", Methods = ["get"],
        }))!;
        var bindings = json["bindings"]!.AsArray();
        Assert.Equal(2, bindings.Count);
        Assert.Equal(("httpTrigger", "in"), ((string)bindings[0]!["type"]!, (string)bindings[0]!["direction"]!));
        Assert.Equal(("http", "out"), ((string)bindings[1]!["type"]!, (string)bindings[1]!["direction"]!));
        Assert.Equal("api/users/{userId}/usage", (string?)bindings[0]!["route"]);
        Assert.Equal("anonymous", (string?)bindings[0]!["authLevel"]);
        Assert.Equal(["get"], bindings[0]!["methods"]!.AsArray().Select(m => (string)m!));
    }

    [Fact]
    public void Queue_and_timer_functions_declare_only_their_trigger()
    {
        var queue = JsonNode.Parse(FunctionManifest.FunctionJson(FunctionDefinition.QueueTriggered("AlertFanOut", "llmcost-alerts")))!["bindings"]!.AsArray();
        var binding = Assert.Single(queue)!;
        Assert.Equal("queueTrigger", (string?)binding["type"]);
        Assert.Equal("llmcost-alerts", (string?)binding["queueName"]);
        Assert.Equal("AzureWebJobsStorage", (string?)binding["connection"]);

        var timer = JsonNode.Parse(FunctionManifest.FunctionJson(FunctionDefinition.Timer("Rollup", "0 */5 * * * *")))!["bindings"]!.AsArray();
        Assert.Equal("0 */5 * * * *", (string?)Assert.Single(timer)!["schedule"]);
    }

    private static Dictionary<string, string> FunctionFiles(string directory) =>
        Directory.Exists(directory)
            ? Directory.GetDirectories(directory)
                .Where(d => File.Exists(Path.Combine(d, FunctionManifest.FunctionJsonFileName)))
                .ToDictionary(d => Path.GetFileName(d), d => File.ReadAllText(Path.Combine(d, FunctionManifest.FunctionJsonFileName)))
            : [];
}
