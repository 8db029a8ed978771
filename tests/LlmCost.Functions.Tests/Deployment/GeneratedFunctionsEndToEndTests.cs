using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Contract;
using LlmCost.Functions.Tests.Operations;

namespace LlmCost.Functions.Tests.Deployment;

/// <summary>
/// The deployed artefacts with a non-default storage prefix, end to end: function.json files generated as
/// publish.sh generates them (default prefix), the app settings main.bicep sets for storagePrefix = the test's
/// prefix, and the built app in standalone mode triggering its functions from exactly those files (resolving their
/// %AppSetting% expressions as the Functions host would). A budget alert must reach a real webhook receiver.
/// </summary>
public class GeneratedFunctionsEndToEndTests
{
    private const string AdminKey = "e2e-admin-key-0123456789abcdef";

    [Fact]
    public async Task An_alert_is_delivered_with_a_non_default_prefix_through_the_generated_function_json_files()
    {
        var prefix = "e2e" + Guid.NewGuid().ToString("N")[..10];
        var functions = Directory.CreateTempSubdirectory("llmcost-e2e-functions-").FullName;
        try
        {
            var (exitCode, log) = await AppProcess.RunToCompletionAsync(
                ["--generate-functions", functions, "--LlmCost:Hosting:DiagnosticFunctions=false", "--LlmCost:Storage:Prefix=llmcost"]);
            Assert.True(exitCode == 0, log);
            var fanOut = FunctionManifest.ReadFunctionJson("OpsAlertFanOut", await File.ReadAllTextAsync(Path.Combine(functions, "OpsAlertFanOut", "function.json")));
            Assert.Equal("%LLMCOST_ALERTS_QUEUE%", fanOut.QueueName);
            // Nothing in the files depends on the prefix they were generated with.
            Assert.All(Directory.GetFiles(functions, "function.json", SearchOption.AllDirectories),
                f => Assert.DoesNotContain("llmcost-", File.ReadAllText(f), StringComparison.Ordinal));

            // The app settings of the template for this prefix (secrets and Azure-only wiring left out: Azurite here).
            var snapshot = await BicepSnapshot.RunAsync(new Dictionary<string, object> { ["environmentName"] = "e2e", ["storagePrefix"] = prefix, ["nameSalt"] = "e2e" });
            Assert.True(snapshot.ExitCode == 0, snapshot.Output);
            var settings = snapshot.AppSettings
                .Where(s => (s.Key.StartsWith("LlmCost__", StringComparison.Ordinal) || s.Key.StartsWith("LLMCOST_", StringComparison.Ordinal))
                            && !s.Value.StartsWith('[') && !UnresolvedReferences.IsUnresolvedReference(s.Value))
                .ToDictionary(s => s.Key, s => s.Value);
            Assert.Equal($"{prefix}-alerts", settings["LLMCOST_ALERTS_QUEUE"]);
            settings["AzureWebJobsStorage"] = TestEnvironment.StorageConnectionString;
            settings["LLMCOST_ADMIN_KEY"] = AdminKey;
            settings["LlmCost__Hosting__Mode"] = "Standalone";
            settings["LlmCost__Hosting__FunctionsDirectory"] = functions;
            settings["LlmCost__Hosting__QueueMaxPollingInterval"] = "00:00:00.500";
            // In Azure the template creates the tables and queues; against Azurite the app does.
            settings["LlmCost__Storage__CreateResources"] = "true";
            // The test webhook receiver listens on loopback, which production refuses by default.
            settings["LlmCost__Alerts__AllowPrivateNetworkTargets"] = "true";

            await using var receiver = await WebhookReceiver.StartAsync();
            await using var app = await AppProcess.StartStandaloneAsync(settings);
            using var client = new HttpClient { BaseAddress = app.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);

            // The template's settings agree with the generated files and the prefix: no configuration problem.
            using (var health = await client.GetAsync(new Uri("/api/health", UriKind.Relative)))
            {
                Assert.True(health.StatusCode == HttpStatusCode.OK, await health.Content.ReadAsStringAsync() + "\n" + app.Output);
            }

            await PostAsync(client, "/api/budgets", new
            {
                tenant_id = "acme", scope = "user", scope_id = "alice", amount_usd = "0.01", period = "daily", mode = "soft", thresholds = new[] { "100" },
            });
            await PostAsync(client, "/api/alerts/subscriptions", new
            {
                tenant_id = "acme", channel = "webhook", url = receiver.Url.ToString(), secret = "e2e-webhook-secret-0123456789", kinds = new[] { "budget_threshold" },
            });
            // gpt-4o, 10,000 input tokens = $0.025: over the $0.01 daily budget.
            await PostAsync(client, "/api/usage", new
            {
                tenant_id = "acme", user_id = "alice", provider = "openai", model = "gpt-4o", usage = new { input_tokens = 10_000, output_tokens = 0 },
            });

            // OpsAlertDispatch (every minute, from its generated function.json) queues the alert on "{prefix}-alerts";
            // OpsAlertFanOut, listening on %LLMCOST_ALERTS_QUEUE% from the template, delivers it.
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (receiver.Requests.IsEmpty && DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }

            var request = Assert.Single(receiver.Requests);
            using var body = JsonDocument.Parse(request.Body);
            Assert.Equal("budget_threshold", body.RootElement.GetProperty("kind").GetString());
            Assert.Equal("alice", body.RootElement.GetProperty("scope_id").GetString());
            Assert.StartsWith("sha256=", request.Headers["X-LlmCost-Signature"], StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(functions, recursive: true);
        }
    }

    private static async Task PostAsync(HttpClient client, string path, object body)
    {
        using var response = await client.PostAsJsonAsync(new Uri(path, UriKind.Relative), body);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
