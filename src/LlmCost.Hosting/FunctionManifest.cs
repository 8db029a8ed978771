using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmCost.Hosting;

/// <summary>
/// Writes what the Functions host reads: one "{Name}/function.json" per function and host.json. Output is
/// deterministic (2-space indent, LF, trailing newline) so the checked-in copies can be compared byte for byte.
/// </summary>
public static class FunctionManifest
{
    public const string FunctionJsonFileName = "function.json";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string FunctionJson(FunctionDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var bindings = new JsonArray();
        switch (definition.Trigger)
        {
            case TriggerKind.Http:
                var trigger = new JsonObject
                {
                    ["type"] = "httpTrigger",
                    ["direction"] = "in",
                    ["name"] = FunctionsHostSettings.HttpRequestBindingName,
                    // The app authenticates with its own API keys; function keys would be a second, unmanaged secret.
                    ["authLevel"] = "anonymous",
                };
                if (definition.Methods.Count > 0)
                {
                    trigger["methods"] = new JsonArray(definition.Methods.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray());
                }

                trigger["route"] = definition.Route;
                bindings.Add(trigger);
                // Exactly httpTrigger in + http out: the host then forwards the real request (enableForwardingHttpRequest).
                bindings.Add(new JsonObject { ["type"] = "http", ["direction"] = "out", ["name"] = FunctionsHostSettings.HttpResponseBindingName });
                break;
            case TriggerKind.Timer:
                bindings.Add(new JsonObject
                {
                    ["type"] = "timerTrigger",
                    ["direction"] = "in",
                    ["name"] = FunctionsHostSettings.TimerBindingName,
                    ["schedule"] = definition.Schedule,
                    ["runOnStartup"] = definition.RunOnStartup,
                    ["useMonitor"] = true,
                });
                break;
            case TriggerKind.Queue:
                bindings.Add(new JsonObject
                {
                    ["type"] = "queueTrigger",
                    ["direction"] = "in",
                    ["name"] = FunctionsHostSettings.QueueBindingName,
                    ["queueName"] = definition.QueueName,
                    ["connection"] = FunctionsHostSettings.StorageConnection,
                });
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(definition), definition.Trigger, "Unknown trigger kind.");
        }

        return Serialize(new JsonObject { ["bindings"] = bindings });
    }

    public static string HostJson()
    {
        var root = new JsonObject
        {
            ["version"] = "2.0",
            ["customHandler"] = new JsonObject
            {
                ["description"] = new JsonObject
                {
                    // The self-contained linux-x64 executable published into app/ (scripts/publish.sh).
                    ["defaultExecutablePath"] = $"{FunctionsHostSettings.AppFolder}/{FunctionsHostSettings.ExecutableName}",
                    ["workingDirectory"] = FunctionsHostSettings.AppFolder,
                    ["arguments"] = new JsonArray(),
                },
                ["enableForwardingHttpRequest"] = true,
            },
            ["extensionBundle"] = new JsonObject
            {
                ["id"] = "Microsoft.Azure.Functions.ExtensionBundle",
                ["version"] = FunctionsHostSettings.ExtensionBundleVersion,
            },
            ["functionTimeout"] = FunctionsHostSettings.FunctionTimeout.ToString("c"),
            ["extensions"] = new JsonObject
            {
                ["queues"] = new JsonObject
                {
                    ["maxDequeueCount"] = FunctionsHostSettings.MaxDequeueCount,
                    ["visibilityTimeout"] = FunctionsHostSettings.QueueVisibilityTimeout.ToString("c"),
                    ["batchSize"] = FunctionsHostSettings.QueueBatchSize,
                    ["messageEncoding"] = FunctionsHostSettings.QueueMessageEncoding,
                },
                ["http"] = new JsonObject { ["routePrefix"] = FunctionsHostSettings.RoutePrefix },
            },
            ["logging"] = new JsonObject
            {
                ["logLevel"] = new JsonObject { ["default"] = "Information" },
            },
        };
        return Serialize(root);
    }

    /// <summary>A machine-readable list of the definitions (for the contract tests, which run the app as a separate process).</summary>
    public static string CatalogJson(IEnumerable<FunctionDefinition> definitions)
    {
        var array = new JsonArray();
        foreach (var d in definitions)
        {
            array.Add(new JsonObject
            {
                ["name"] = d.Name,
                ["trigger"] = d.Trigger.ToString(),
                ["route"] = d.Route,
                ["methods"] = new JsonArray(d.Methods.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
                ["schedule"] = d.Schedule,
                ["queueName"] = d.QueueName,
            });
        }

        return Serialize(array);
    }

    /// <summary>
    /// The storage the app declares, by kind, as logical names sorted (infra-bicep/storage-resources.json, read by
    /// main.bicep with loadJsonContent, so the deployment creates exactly what the code uses).
    /// </summary>
    public static string StorageJson(IEnumerable<LlmCost.Storage.StorageResource> resources)
    {
        var distinct = resources.Distinct().ToList();
        JsonArray Names(LlmCost.Storage.StorageResourceKind kind) => new(distinct
            .Where(r => r.Kind == kind).Select(r => r.LogicalName).Distinct().Order(StringComparer.Ordinal)
            .Select(n => (JsonNode)JsonValue.Create(n)!).ToArray());
        return Serialize(new JsonObject
        {
            ["tables"] = Names(LlmCost.Storage.StorageResourceKind.Table),
            ["queues"] = Names(LlmCost.Storage.StorageResourceKind.Queue),
            ["containers"] = Names(LlmCost.Storage.StorageResourceKind.Container),
        });
    }

    /// <summary>Writes "{dir}/{Name}/function.json" for each definition and removes function folders no longer defined.</summary>
    public static void WriteFunctions(string directory, IReadOnlyList<FunctionDefinition> definitions)
    {
        ArgumentNullException.ThrowIfNull(definitions);
        Directory.CreateDirectory(directory);
        var names = definitions.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var stale in Directory.GetDirectories(directory))
        {
            if (!names.Contains(Path.GetFileName(stale)) && File.Exists(Path.Combine(stale, FunctionJsonFileName)))
            {
                Directory.Delete(stale, recursive: true);
            }
        }

        foreach (var definition in definitions)
        {
            var folder = Path.Combine(directory, definition.Name);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, FunctionJsonFileName), FunctionJson(definition));
        }
    }

    /// <summary>
    /// Reads a function.json back into a definition: its trigger binding, as the Functions host reads it (expressions
    /// stay unresolved). Throws <see cref="InvalidDataException"/> on a file the host would not load either.
    /// </summary>
    public static FunctionDefinition ReadFunctionJson(string name, string json)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{name}/{FunctionJsonFileName} is not JSON: {ex.Message}", ex);
        }

        var trigger = (root?["bindings"] as JsonArray)?.OfType<JsonObject>()
            .SingleOrDefault(b => ((string?)b["direction"]) == "in" && ((string?)b["type"])?.EndsWith("Trigger", StringComparison.Ordinal) == true)
            ?? throw new InvalidDataException($"{name}/{FunctionJsonFileName} has no single trigger binding");
        try
        {
            return (string?)trigger["type"] switch
            {
                "httpTrigger" => new FunctionDefinition
                {
                    Name = name,
                    Trigger = TriggerKind.Http,
                    Route = (string?)trigger["route"],
                    Methods = (trigger["methods"] as JsonArray)?.Select(m => (string)m!).ToList() ?? [],
                },
                "timerTrigger" => new FunctionDefinition
                {
                    Name = name,
                    Trigger = TriggerKind.Timer,
                    Schedule = (string?)trigger["schedule"],
                    RunOnStartup = (bool?)trigger["runOnStartup"] ?? false,
                },
                "queueTrigger" => FunctionDefinition.QueueTriggered(name, (string?)trigger["queueName"]
                    ?? throw new InvalidDataException($"{name}/{FunctionJsonFileName}: the queue trigger has no queueName")),
                var other => throw new InvalidDataException($"{name}/{FunctionJsonFileName}: trigger type '{other}' is not one this app implements"),
            };
        }
        catch (Exception ex) when (ex is InvalidCastException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"{name}/{FunctionJsonFileName}: {ex.Message}", ex);
        }
    }

    private static string Serialize(JsonNode node) => node.ToJsonString(Indented).ReplaceLineEndings("\n") + "\n";
}
