using System.Text.Json;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Contract;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Storage;

namespace LlmCost.Functions.Tests.Hosting;

/// <summary>
/// Bindings that depend on configuration are %AppSetting% expressions, resolved like the Functions host resolves
/// them; a setting the host could not resolve, or one naming a queue the app does not write, makes the app unhealthy.
/// </summary>
public class FunctionBindingTests
{
    private static readonly string AlertsQueueSetting = StorageNames.QueueSetting("alerts");

    [Fact]
    public void The_queue_setting_is_a_flat_name_the_host_can_resolve()
    {
        Assert.Equal("LLMCOST_ALERTS_QUEUE", AlertsQueueSetting);
        Assert.Equal("LLMCOST_USAGE_EVENTS_QUEUE", StorageNames.QueueSetting("usage-events"));
        Assert.True(AppSettingExpressions.IsHostResolvableName(AlertsQueueSetting));
        // The host looks settings up in configuration, where "A__B" became "A:B": such names never resolve.
        Assert.False(AppSettingExpressions.IsHostResolvableName("LlmCost__Storage__AlertsQueue"));
        Assert.False(AppSettingExpressions.IsHostResolvableName("LlmCost:Storage:AlertsQueue"));
        Assert.Throws<ArgumentException>(() => AppSettingExpressions.For("LlmCost__Storage__AlertsQueue"));
    }

    [Fact]
    public void Expressions_resolve_from_settings_then_defaults_and_report_what_is_missing()
    {
        var settings = new Dictionary<string, string?> { ["A"] = "acme", ["EMPTY"] = "" };
        var withDefaults = new AppSettingExpressions(n => settings.GetValueOrDefault(n), new Dictionary<string, string> { ["B"] = "b-default", ["A"] = "not-used" });
        Assert.Equal("acme-alerts", withDefaults.Resolve("%A%-alerts", out var none));
        Assert.Empty(none);
        Assert.Equal("acme/b-default", withDefaults.Resolve("%A%/%B%", out _));

        var hostLike = new AppSettingExpressions(n => settings.GetValueOrDefault(n));
        hostLike.Resolve("%B%-%EMPTY%-%A%", out var missing);
        Assert.Equal(["B", "EMPTY"], missing);
        Assert.Equal("literal-queue", hostLike.Resolve("literal-queue", out var literal));
        Assert.Empty(literal);
    }

    [Theory]
    [InlineData("%LLMCOST_ALERTS_QUEUE%", true)]
    [InlineData("llmcost-alerts", true)]
    [InlineData("%LlmCost__Storage__AlertsQueue%", false)]
    [InlineData("%LlmCost:Storage:AlertsQueue%", false)]
    [InlineData("%LLMCOST_PREFIX%-alerts", false)]
    [InlineData("%A%%B%", false)]
    [InlineData("Upper_Case", false)]
    public void A_queue_binding_is_a_valid_queue_name_or_one_whole_host_resolvable_expression(string queueName, bool valid)
    {
        var definitions = new[] { FunctionDefinition.QueueTriggered("Queue", queueName) };
        if (valid)
        {
            FunctionCatalog.Validate(definitions);
        }
        else
        {
            var error = Assert.Throws<InvalidOperationException>(() => FunctionCatalog.Validate(definitions));
            Assert.Contains("Queue: queue name", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_timer_that_runs_on_every_host_start_is_refused()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FunctionCatalog.Validate(
            [FunctionDefinition.Timer("Rollups", "0 */5 * * * *") with { RunOnStartup = true }]));
        Assert.Contains("every scale-out", error.Message, StringComparison.Ordinal);
        FunctionCatalog.Validate([FunctionDefinition.Timer("Rollups", "0 */5 * * * *", runAtStandaloneStart: true)]);
        Assert.Contains("\"runOnStartup\": false", FunctionManifest.FunctionJson(FunctionDefinition.Timer("Rollups", "0 */5 * * * *", runAtStandaloneStart: true)), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_checked_in_function_json_reads_back_into_the_definition_it_was_written_from()
    {
        var files = Directory.GetFiles(Path.Combine(TestEnvironment.RepoRoot, "functions"), FunctionManifest.FunctionJsonFileName, SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var json = File.ReadAllText(file);
            var definition = FunctionManifest.ReadFunctionJson(Path.GetFileName(Path.GetDirectoryName(file))!, json);
            Assert.Equal(json, FunctionManifest.FunctionJson(definition));
        }

        Assert.Throws<InvalidDataException>(() => FunctionManifest.ReadFunctionJson("X", """{"bindings":[{"type":"blobTrigger","direction":"in","name":"b"}]}"""));
        Assert.Throws<InvalidDataException>(() => FunctionManifest.ReadFunctionJson("X", """{"bindings":[]}"""));
        Assert.Throws<InvalidDataException>(() => FunctionManifest.ReadFunctionJson("X", "{not json"));
    }

    [Fact]
    public async Task Under_the_functions_host_a_missing_queue_setting_makes_health_name_it()
    {
        await using var host = await LlmCostTestHost.StartAsync(o => o.Settings["LlmCost:Hosting:Mode"] = "FunctionsHost");
        var (status, health) = await host.CreateClient(null).GetJsonAsync("api/health");
        Assert.Equal(503, status);
        Assert.Equal([AlertsQueueSetting], health.GetProperty("settings").EnumerateArray().Select(s => s.GetString()));
        Assert.Contains($"OpsAlertFanOut's queue trigger names its queue %{AlertsQueueSetting}%", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains($"{host.Options.Prefix}-alerts", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Under_the_functions_host_the_queue_setting_the_template_sets_is_healthy()
    {
        await using var configured = await LlmCostTestHost.StartAsync(o =>
        {
            o.Settings["LlmCost:Hosting:Mode"] = "FunctionsHost";
            o.Settings[AlertsQueueSetting] = $"{o.Prefix}-alerts";
        });
        var (status, health) = await configured.CreateClient(null).GetJsonAsync("api/health");
        Assert.True(status == 200, health.ToString());
    }

    [Fact]
    public async Task A_queue_setting_that_disagrees_with_the_storage_prefix_makes_health_name_it()
    {
        await using var host = await LlmCostTestHost.StartAsync(o => o.Settings[AlertsQueueSetting] = "someone-elses-alerts");
        var (status, health) = await host.CreateClient(null).GetJsonAsync("api/health");
        Assert.Equal(503, status);
        Assert.Equal([AlertsQueueSetting], health.GetProperty("settings").EnumerateArray().Select(s => s.GetString()));
        Assert.Contains("would never see a message", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Number, health.GetProperty("status").ValueKind);
    }
}
