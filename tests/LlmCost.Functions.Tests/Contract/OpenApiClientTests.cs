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

    /// <summary>
    /// Operations whose answers are still anonymous objects (no schema yet). The list may only shrink: an operation
    /// that gains schemas must leave it, and a new operation must never join it.
    /// </summary>
    private static readonly HashSet<string> PendingResponseSchemas =
    [
        "ListAlerts", "ListAlertSubscriptions", "CreateAlertSubscription", "ListAlertRules", "CreateAlertRule", "GetAlertRule",
        "UpdateAlertRule", "GetAlert", "CreateReport", "ListReports", "DownloadReport", "GetRollups", "ExportUserData", "DeleteUserData",
        "DeleteAlertSubscription", "DeleteAlertRule", "MarkAlertRead",
    ];

    /// <summary>POST operations that take no body (an action on the addressed record).</summary>
    private static readonly HashSet<string> NoBody = ["ResetBudgetBreaker", "ExpireBudgetReservations", "MarkAlertRead"];

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
        var faults = new List<string>();
        var lacking = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string path, JsonNode? item) in document["paths"]!.AsObject())
        {
            foreach ((string method, JsonNode? operation) in item!.AsObject())
            {
                string id = operation!["operationId"]?.GetValue<string>() ?? $"{method} {path}";
                JsonObject responses = operation["responses"]!.AsObject();
                bool success = responses.Any(r => r.Key == "204" || (r.Key.StartsWith('2') && r.Value!["content"] is JsonObject { Count: > 0 }));
                if (!success)
                {
                    lacking.Add(id);
                }

                if (method is "post" or "put" && operation["requestBody"] is null && !NoBody.Contains(id))
                {
                    faults.Add($"{id} ({method.ToUpperInvariant()} {path}): no request body schema: add .Accepts<TWireRecord>(\"application/json\")");
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

        foreach (string id in lacking.Except(PendingResponseSchemas).Order())
        {
            faults.Add($"{id}: no success response schema: return a named record and add .Produces<TResponse>() (or .Produces(204))");
        }

        foreach (string id in PendingResponseSchemas.Except(lacking).Order())
        {
            faults.Add($"{id} documents its response now: remove it from {nameof(PendingResponseSchemas)}");
        }

        Assert.True(faults.Count == 0, string.Join('\n', faults) + $"\nthen {Regenerate}");
    }

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
