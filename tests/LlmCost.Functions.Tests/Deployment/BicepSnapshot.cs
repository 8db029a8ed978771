using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LlmCost.Functions.Tests.Contract;

namespace LlmCost.Functions.Tests.Deployment;

/// <summary>
/// infra-bicep/main.bicep evaluated locally with `bicep snapshot` (no Azure): the resources a deployment would
/// create, with names, properties and app settings computed from the given parameters for a placeholder
/// subscription, or the error the template raises for them (parameter constraints, its own fail() checks).
/// </summary>
public sealed class BicepSnapshot
{
    public const string SubscriptionId = "00000000-0000-0000-0000-000000000000";
    public const string ResourceGroup = "rg-llmcost-test";

    private BicepSnapshot(int exitCode, string output, JsonNode? snapshot)
    {
        ExitCode = exitCode;
        Output = output;
        Json = snapshot;
    }

    public int ExitCode { get; }

    /// <summary>The CLI's own output (diagnostics, the template's fail() message).</summary>
    public string Output { get; }

    public JsonNode? Json { get; }

    public IReadOnlyList<JsonNode> Resources =>
        Json?["predictedResources"]?.AsArray().OfType<JsonNode>().ToList() ?? throw new InvalidOperationException("no snapshot:\n" + Output);

    public JsonNode Single(string type) => Assert.Single(Resources, r => Type(r) == type);

    public IEnumerable<JsonNode> All(string type) => Resources.Where(r => Type(r) == type);

    /// <summary>The function app's settings, name → value.</summary>
    public Dictionary<string, string> AppSettings =>
        Single("Microsoft.Web/sites")["properties"]!["siteConfig"]!["appSettings"]!.AsArray()
            .ToDictionary(s => (string)s!["name"]!, s => (string)s!["value"]!, StringComparer.Ordinal);

    public static string? Type(JsonNode resource) => (string?)resource["type"];

    /// <param name="parameters">Template parameters: strings, ints and bools.</param>
    public static async Task<BicepSnapshot> RunAsync(IReadOnlyDictionary<string, object> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var folder = Path.Combine(Path.GetTempPath(), "llmcost-snapshot-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            // A parameters file must name its template with a relative path.
            var text = new StringBuilder($"using '{Path.GetRelativePath(folder, BicepTests.MainBicep).Replace('\\', '/')}'\n");
            foreach (var (name, value) in parameters)
            {
                text.Append("param ").Append(name).Append(" = ").Append(value switch
                {
                    bool b => b ? "true" : "false",
                    int i => i.ToString(CultureInfo.InvariantCulture),
                    string s => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'",
                    _ => throw new ArgumentException($"unsupported parameter type for {name}", nameof(parameters)),
                }).Append('\n');
            }

            var file = Path.Combine(folder, "test.bicepparam");
            await File.WriteAllTextAsync(file, text.ToString());
            var (exitCode, stdout, stderr) = await BicepTests.RunSplitAsync(
                "snapshot", file, "--mode", "overwrite", "--subscription-id", SubscriptionId, "--resource-group", ResourceGroup, "--location", "westeurope");
            var snapshotFile = Path.Combine(folder, "test.snapshot.json");
            var json = exitCode == 0 && File.Exists(snapshotFile) ? JsonNode.Parse(await File.ReadAllTextAsync(snapshotFile)) : null;
            return new BicepSnapshot(exitCode, stdout + stderr, json);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
