using System.Text.Json;
using System.Text.Json.Nodes;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Generated;
using LlmCost.Generated.Models;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;

namespace LlmCost.Functions.Tests.Contract;

/// <summary>
/// The OpenAPI document is a contract clients are generated from: the committed snapshot (docs/openapi/v1.json, from
/// which the build generates a Kiota client) equals what the app serves; every operation documents its bodies, its
/// problems and examples; and the generated client drives the running service.
/// </summary>
public sealed class OpenApiClientTests : IAsyncLifetime
{
    private const string Regenerate =
        "regenerate it with scripts/update-openapi.sh (or LLMCOST_UPDATE_OPENAPI=1 dotnet test --filter OpenApiClientTests) and commit docs/openapi/v1.json; " +
        "see docs/api.md for the metadata every endpoint needs";

    /// <summary>POST operations that take no body (an action on the addressed record).</summary>
    private static readonly HashSet<string> NoBody = ["ResetBudgetBreaker", "ExpireBudgetReservations", "MarkAlertRead"];

    /// <summary>
    /// Operations whose request body is a file in someone else's format, documented as any JSON: a published price
    /// catalog is a genai-prices or LiteLLM file, validated by the publisher, not a shape of this API.
    /// </summary>
    private static readonly HashSet<string> ForeignFileBody = ["PublishCatalog"];

    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static string SnapshotPath => Path.Combine(TestEnvironment.RepoRoot, "docs", "openapi", "v1.json");

    private async Task<JsonNode> ServedAsync()
    {
        using HttpClient anonymous = _host.CreateClient(null);
        return JsonNode.Parse(await anonymous.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative)))!;
    }

    [Fact]
    public async Task TheServedDocumentEqualsTheCommittedSnapshot()
    {
        JsonNode served = await ServedAsync();
        JsonNode? committed = File.Exists(SnapshotPath) ? JsonNode.Parse(await File.ReadAllTextAsync(SnapshotPath)) : null;
        if (JsonNode.DeepEquals(served, committed))
        {
            return;
        }

        if (Environment.GetEnvironmentVariable("LLMCOST_UPDATE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(SnapshotPath, served.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return;
        }

        string[] paths = Paths(served).Except(committed is null ? [] : Paths(committed)).Concat(
            (committed is null ? [] : Paths(committed)).Except(Paths(served))).ToArray();
        Assert.Fail($"docs/openapi/v1.json differs from the document the app serves (operations added or removed: [{string.Join(", ", paths)}]): {Regenerate}");
    }

    [Fact]
    public async Task EveryOperationDocumentsItsBodiesProblemsAndExamples()
    {
        JsonNode document = await ServedAsync();
        Assert.True(Paths(document).Count() > 50, "the served document lists (almost) no operations");
        IReadOnlyList<string> faults = Faults(document);
        Assert.True(faults.Count == 0, string.Join('\n', faults) + $"\nthen {Regenerate}");
    }

    /// <summary>The completeness check itself: on a document with known gaps it names each operation and what it lacks.</summary>
    [Fact]
    public async Task TheCompletenessCheckNamesEachOperationThatLacksSomething()
    {
        JsonNode document = await ServedAsync();
        JsonObject rules = document["paths"]!["/api/alerts/rules"]!.AsObject();
        rules["get"]!["responses"]!["200"]!.AsObject().Remove("content");
        rules["post"]!.AsObject().Remove("requestBody");
        rules["post"]!["responses"]!.AsObject().Remove("401");
        rules["post"]!["responses"]!["400"]!["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject() } };
        JsonObject rollups = document["paths"]!["/api/rollups"]!["get"]!.AsObject();
        rollups.Remove("summary");
        rollups["tags"] = new JsonArray("OperationsApi");
        document["paths"]!["/api/repricing"]!["post"]!["requestBody"]!["content"]!["application/json"]!["schema"] =
            new JsonObject { ["$ref"] = "#/components/schemas/JsonElement" };
        document["components"]!["schemas"]!["AnonymousTypeOfString"] = new JsonObject { ["type"] = "object" };

        string faults = string.Join('\n', Faults(document));

        Assert.Contains("ListAlertRules: 200 answers no schema", faults, StringComparison.Ordinal);
        Assert.Contains("CreateAlertRule (POST /api/alerts/rules): no request body schema", faults, StringComparison.Ordinal);
        Assert.Contains("CreateAlertRule: needs a key but documents no 401/403 problem", faults, StringComparison.Ordinal);
        Assert.Contains("CreateAlertRule: 400 is not an application/problem+json body", faults, StringComparison.Ordinal);
        Assert.Contains("GetRollups: no summary", faults, StringComparison.Ordinal);
        Assert.Contains("GetRollups: tag 'OperationsApi'", faults, StringComparison.Ordinal);
        Assert.Contains("Reprice: the request body is untyped JSON", faults, StringComparison.Ordinal);
        Assert.Contains("schema AnonymousTypeOfString", faults, StringComparison.Ordinal);
        Assert.DoesNotContain("GetAlertRule", faults, StringComparison.Ordinal);
    }

    /// <summary>
    /// Everything a generated client needs, per operation: an id, a summary and a tag; a typed request body where it
    /// takes one; a schema for every 2xx answer but 204; an RFC 9457 problem body for every 4xx and 5xx (401 and 403
    /// wherever a key is needed, 503 everywhere); an example for every body; and no anonymous schema.
    /// </summary>
    private static List<string> Faults(JsonNode document)
    {
        var faults = new List<string>();
        foreach ((string path, JsonNode? item) in document["paths"]!.AsObject())
        {
            foreach ((string method, JsonNode? operation) in item!.AsObject())
            {
                string? operationId = operation!["operationId"]?.GetValue<string>();
                string id = operationId ?? $"{method.ToUpperInvariant()} {path}";
                if (operationId is null)
                {
                    faults.Add($"{id}: no operationId: add .WithName(\"...\")");
                }

                if (string.IsNullOrWhiteSpace(operation["summary"]?.GetValue<string>()))
                {
                    faults.Add($"{id}: no summary: add .WithSummary(\"...\")");
                }

                string[] tags = operation["tags"]?.AsArray().Select(t => t!.GetValue<string>()).ToArray() ?? [];
                if (tags.Length == 0)
                {
                    faults.Add($"{id}: no tag: add .WithTags(\"...\")");
                }

                foreach (string tag in tags.Where(t => t.EndsWith("Api", StringComparison.Ordinal) || t.EndsWith("Endpoints", StringComparison.Ordinal)))
                {
                    faults.Add($"{id}: tag '{tag}' is the handler's class name (the default): add .WithTags(\"<area>\")");
                }

                JsonObject? requestContent = operation["requestBody"]?["content"] as JsonObject;
                if (method is "post" or "put" or "patch" && !NoBody.Contains(id)
                    && (requestContent is null || requestContent.Count == 0 || requestContent.Any(m => m.Value?["schema"] is null)))
                {
                    faults.Add($"{id} ({method.ToUpperInvariant()} {path}): no request body schema: bind a named record or add .Accepts<TWireRecord>(\"application/json\")");
                }

                if (!ForeignFileBody.Contains(id) && requestContent?.Any(m => Untyped(m.Value?["schema"])) == true)
                {
                    faults.Add($"{id}: the request body is untyped JSON (JsonElement or no properties): declare the record it reads with .Accepts<TWireRecord>()");
                }

                JsonObject responses = operation["responses"]!.AsObject();
                if (!responses.Any(r => r.Key.StartsWith('2')))
                {
                    faults.Add($"{id}: no success response: add .Produces<TResponse>() (or .Produces(204))");
                }

                foreach ((string status, JsonNode? response) in responses)
                {
                    JsonObject? content = response?["content"] as JsonObject;
                    if (status == "204")
                    {
                        continue;
                    }

                    if (status.StartsWith('2'))
                    {
                        if (content is null || content.Count == 0 || content.Any(m => m.Value?["schema"] is not JsonObject { Count: > 0 } || Untyped(m.Value["schema"])))
                        {
                            faults.Add($"{id}: {status} answers no schema: return a named record and add .Produces<TResponse>()");
                        }
                    }
                    else if (status[0] is '4' or '5' && content?["application/problem+json"]?["schema"] is null)
                    {
                        faults.Add($"{id}: {status} is not an application/problem+json body: add .ProducesProblem({status})");
                    }
                }

                if (!responses.ContainsKey("503"))
                {
                    faults.Add($"{id}: no 503 problem response");
                }

                if (operation["security"] is not null && !(responses.ContainsKey("401") && responses.ContainsKey("403")))
                {
                    faults.Add($"{id}: needs a key but documents no 401/403 problem");
                }

                foreach (JsonNode? media in Contents(operation))
                {
                    if (media!["schema"] is null || media["example"] is null)
                    {
                        faults.Add($"{id}: a body without schema or example");
                    }
                }
            }
        }

        foreach ((string name, JsonNode? _) in document["components"]?["schemas"]?.AsObject() ?? [])
        {
            if (name.StartsWith("AnonymousType", StringComparison.Ordinal))
            {
                faults.Add($"schema {name}: an anonymous object on the wire: return a named record");
            }
        }

        return faults;
    }

    /// <summary>A schema that says nothing of the body's shape: JsonElement, or an object with no properties of its own.</summary>
    private static bool Untyped(JsonNode? schema) =>
        schema?["$ref"]?.GetValue<string>() == "#/components/schemas/JsonElement"
        || (schema is JsonObject { Count: 0 });

    [Fact]
    public async Task AClientGeneratedFromTheSnapshotDrivesTheRunningService()
    {
        string tenant = "oa-" + Guid.NewGuid().ToString("N")[..8];
        LlmCostApiClient admin = Client(LlmCostTestHost.AdminKey);

        HealthResponse? health = await admin.Api.Health.GetAsync();
        Assert.Equal("healthy", health!.Status);

        CreatedKeyResponse? key = await admin.Api.Keys.PostAsync(new CreateKeyRequest { Role = "ingest", TenantId = tenant });
        Assert.Equal(tenant, key!.TenantId);
        LlmCostApiClient ingest = Client(key.ApiKey!);

        var usage = new UsageEventBody_usage();
        usage.AdditionalData["input_tokens"] = 1000;
        usage.AdditionalData["output_tokens"] = 500;
        var body = new UsageEventBody { EventId = "gen-1", UserId = "gina", Provider = "openai", Model = "gpt-4o", Usage = usage };
        RecordResult? recorded = await ingest.Api.Usage.PostAsync(body);
        Assert.Equal(("gen-1", false, "0.0075"), (recorded!.EventId, recorded.Duplicate, recorded.CostUsd));
        Assert.True((await ingest.Api.Usage.PostAsync(body))!.Duplicate);

        QuoteResponse? quote = await ingest.Api.Price.PostAsync(body);
        Assert.Equal("0.0075", quote!.CostUsd);

        UsageResponse? report = await admin.Api.Users["gina"].Usage.GetAsync(r => r.QueryParameters.TenantId = tenant);
        Assert.Equal(("0.0075", 1L), (report!.Total!.CostUsd, report.Total.Events));

        // Alert rules: created, listed and read back as the documented records.
        RuleResponse? rule = await admin.Api.Alerts.Rules.PostAsync(
            new RuleBody { TenantId = tenant, Kind = "cost_anomaly", Scope = "user", ScopeId = "gina", CooldownMinutes = 45 });
        Assert.Equal((tenant, "cost_anomaly", "gina", true, 45), (rule!.TenantId, rule.Kind, rule.ScopeId, rule.Enabled, rule.CooldownMinutes));
        RuleListResponse? rules = await admin.Api.Alerts.Rules.GetAsync(r => r.QueryParameters.TenantId = tenant);
        Assert.Equal([rule.RuleId], rules!.Rules!.Select(r => r.RuleId));
        RuleResponse? read = await admin.Api.Alerts.Rules[rule.RuleId!].GetAsync(r => r.QueryParameters.TenantId = tenant);
        Assert.Equal((45, rule.CreatedAt), (read!.CooldownMinutes, read.CreatedAt));

        // Keys of one tenant (tenant_id filters the list).
        KeyListResponse? keys = await admin.Api.Keys.GetAsync(r => r.QueryParameters.TenantId = tenant);
        Assert.Equal([(key.KeyId, "ingest")], keys!.Keys!.Select(k => (k.KeyId, k.Role)));

        // A refusal arrives as the documented problem type, naming the field.
        var invalid = new UsageEventBody { UserId = "gina", Model = "gpt-4o" };
        HttpValidationProblemDetails problem = await Assert.ThrowsAsync<HttpValidationProblemDetails>(() => ingest.Api.Usage.PostAsync(invalid));
        Assert.Equal(400, problem.ResponseStatusCode);
        Assert.Contains("usage", problem.Errors!.AdditionalData.Keys);
    }

    [Fact]
    public async Task TheInteractiveReferenceIsServedWithItsScriptFromTheApp()
    {
        using HttpClient anonymous = _host.CreateClient(null);
        string page = await anonymous.GetStringAsync(new Uri("scalar/", UriKind.Relative));
        Assert.Contains("openapi/v1.json", page, StringComparison.Ordinal);
        Assert.DoesNotContain("cdn.jsdelivr.net", page, StringComparison.Ordinal);
        using HttpResponseMessage script = await anonymous.GetAsync(new Uri("scalar/scalar.js", UriKind.Relative));
        Assert.Equal(200, (int)script.StatusCode);
        Assert.True((await script.Content.ReadAsByteArrayAsync()).Length > 100_000);
    }

    private LlmCostApiClient Client(string key)
    {
        HttpClient http = _host.CreateClient(key);
        var adapter = new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http) { BaseUrl = _host.BaseAddress.ToString().TrimEnd('/') };
        return new LlmCostApiClient(adapter);
    }

    private static IEnumerable<string> Paths(JsonNode document) =>
        document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(m => $"{m.Key.ToUpperInvariant()} {p.Key}"));

    private static IEnumerable<JsonNode?> Contents(JsonNode operation)
    {
        foreach ((string _, JsonNode? media) in operation["requestBody"]?["content"]?.AsObject() ?? [])
        {
            yield return media;
        }

        foreach ((string _, JsonNode? response) in operation["responses"]!.AsObject())
        {
            foreach ((string _, JsonNode? media) in response!["content"]?.AsObject() ?? [])
            {
                yield return media;
            }
        }
    }
}
