using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmCost.Functions.Tests.Contract;

public sealed class HostedAppFixture : IAsyncLifetime
{
    private readonly string _prefix = TestEnvironment.NewPrefix();
    private readonly string _appRoot = Path.Combine(Path.GetTempPath(), "llmcost-contract-" + Guid.NewGuid().ToString("N"));
    private AppProcess? _app;

    public AppProcess App => _app ?? throw new InvalidOperationException("not started");

    /// <summary>The functions as the app itself reports them (the generator that writes function.json).</summary>
    public List<JsonObject> Functions { get; private set; } = [];

    private Dictionary<string, string> Settings => new()
    {
        ["AzureWebJobsStorage"] = TestEnvironment.StorageConnectionString,
        ["LlmCost__Storage__Prefix"] = _prefix,
        ["LlmCost__Hosting__DiagnosticFunctions"] = "true",
        ["LLMCOST_ADMIN_KEY"] = "contract-test-admin-key-0123456789",
        // What a deployment sets for the queue triggers' %AppSetting% expressions (the app is unhealthy without them).
        [LlmCost.Storage.StorageNames.QueueSetting("alerts")] = $"{_prefix}-alerts",
        [LlmCost.Storage.StorageNames.QueueSetting("diagnostics")] = $"{_prefix}-diagnostics",
    };

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_appRoot);
        var catalog = Path.Combine(_appRoot, "catalog.json");
        var (exitCode, output) = await AppProcess.RunToCompletionAsync(
            ["--generate-functions", _appRoot, "--generate-host-json", Path.Combine(_appRoot, "host.json"), "--describe-functions", catalog], Settings);
        Assert.True(exitCode == 0, output);
        Functions = JsonNode.Parse(await File.ReadAllTextAsync(catalog))!.AsArray().Select(n => n!.AsObject()).ToList();
        _app = await AppProcess.StartAsHostWouldAsync(_appRoot, Settings);
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        Directory.Delete(_appRoot, recursive: true);
    }
}

/// <summary>
/// The custom-handler protocol, against the real app started as a separate process exactly as the Functions host
/// starts it (FUNCTIONS_CUSTOMHANDLER_PORT and the other §1.2 variables), with host-shaped invocation payloads for
/// every timer and queue function the app registers (plus the two diagnostic probes).
/// </summary>
public sealed class CustomHandlerContractTests(HostedAppFixture fixture) : IClassFixture<HostedAppFixture>
{
    private AppProcess App => fixture.App;

    private List<JsonObject> Functions => fixture.Functions;

    [Fact]
    public async Task Get_root_answers_for_the_host_readiness_ping()
    {
        using var response = await App.Client.GetAsync("/");
        Assert.True(response.IsSuccessStatusCode, $"GET / answered {(int)response.StatusCode}");
    }

    [Fact]
    public async Task Every_timer_function_answers_a_host_invocation_with_the_exact_result_shape()
    {
        var timers = Names("Timer");
        Assert.Contains("DiagnosticTimer", timers);
        foreach (var name in timers)
        {
            var payload = new JsonObject
            {
                ["Data"] = new JsonObject
                {
                    ["timer"] = new JsonObject
                    {
                        ["Schedule"] = new JsonObject { ["AdjustForDST"] = true },
                        ["ScheduleStatus"] = new JsonObject
                        {
                            ["Last"] = "2026-01-01T00:00:00Z", ["Next"] = "2026-01-01T00:05:00Z", ["LastUpdated"] = "2026-01-01T00:00:00Z",
                        },
                        ["IsPastDue"] = false,
                    },
                },
                ["Metadata"] = new JsonObject { ["sys"] = Sys(name) },
            }.ToJsonString();
            await AssertSucceedsAsync(name, payload);
        }
    }

    [Fact]
    public async Task A_double_encoded_queue_message_with_string_metadata_is_processed()
    {
        var message = """{"expect_dequeue_count":3}""";
        using var response = await InvokeAsync("DiagnosticQueue", QueuePayload("DiagnosticQueue", message, dequeueCount: 3));
        await AssertResultShapeAsync("DiagnosticQueue", response);
    }

    [Fact]
    public async Task Every_queue_function_fails_a_malformed_message_with_a_non_success_status_so_the_host_retries_and_poisons()
    {
        var queues = Names("Queue");
        Assert.Contains("DiagnosticQueue", queues);
        foreach (var name in queues)
        {
            using var response = await InvokeAsync(name, QueuePayload(name, "{not json", dequeueCount: 1));
            Assert.False(response.IsSuccessStatusCode, $"{name} accepted a malformed message ({(int)response.StatusCode})");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task A_failing_function_returns_a_server_error()
    {
        using var response = await InvokeAsync("DiagnosticQueue", QueuePayload("DiagnosticQueue", """{"fail":true}""", dequeueCount: 5));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_wrong_dequeue_count_reaches_the_function_as_sent()
    {
        // The probe fails unless it sees the count the host sent: 2 is not 3.
        using var response = await InvokeAsync("DiagnosticQueue", QueuePayload("DiagnosticQueue", """{"expect_dequeue_count":3}""", dequeueCount: 2));
        Assert.False(response.IsSuccessStatusCode);
    }

    [Fact]
    public async Task An_unknown_function_is_a_404_problem()
    {
        using var response = await InvokeAsync("NoSuchFunction", """{"Data":{},"Metadata":{}}""");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_payload_that_is_not_json_is_a_400_problem()
    {
        using var response = await InvokeAsync("DiagnosticTimer", "not json");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Every_http_function_route_reaches_an_app_endpoint_when_the_host_forwards_it()
    {
        // The host forwards /{function.json route} unchanged (routePrefix is empty), with its own headers; the app must route it to an
        // endpoint (no key: 401/403 for protected ones, 4xx for bad input, 200 for health), never "no such route".
        var http = Functions.Where(f => (string?)f["trigger"] == "Http").ToList();
        Assert.NotEmpty(http);
        foreach (var function in http)
        {
            var path = "/" + ConcretePath((string)function["route"]!);
            foreach (var method in function["methods"]!.AsArray().Select(m => (string)m!))
            {
                using var request = new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), path);
                request.Headers.Add("X-Azure-Functions-InvocationId", Guid.NewGuid().ToString());
                request.Headers.UserAgent.ParseAdd("Azure-Functions-Host/4.1037.0.0");
                if (method is "post" or "put" or "patch")
                {
                    request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                }

                using var response = await App.Client.SendAsync(request);
                Assert.True(
                    response.StatusCode is not (HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed) && (int)response.StatusCode < 500,
                    $"{function["name"]}: {method.ToUpperInvariant()} {path} answered {(int)response.StatusCode}");
            }
        }
    }

    /// <summary>A request path for a function route: parameters filled with values their constraints accept.</summary>
    private static string ConcretePath(string route) => System.Text.RegularExpressions.Regex.Replace(
        route,
        @"\{\*?(?<name>[A-Za-z0-9_]+)(?<constraints>(:[^}?]+)*)\??\}",
        m => m.Groups["constraints"].Value switch
        {
            // A catch-all may be empty: /dashboard/ is the page itself (any other file name would be a 404).
            _ when m.Value.StartsWith("{*", StringComparison.Ordinal) => string.Empty,
            var c when c.Contains(":int", StringComparison.Ordinal) || c.Contains(":long", StringComparison.Ordinal) => "1",
            var c when c.Contains(":guid", StringComparison.Ordinal) => Guid.NewGuid().ToString(),
            var c when c.Contains(":bool", StringComparison.Ordinal) => "true",
            _ => "contract-" + m.Groups["name"].Value.ToLowerInvariant(),
        });

    private List<string> Names(string trigger) =>
        Functions.Where(f => (string?)f["trigger"] == trigger).Select(f => (string)f["name"]!).ToList();

    /// <summary>Reference §2.2 queue payload with §2.4 encoding: strings JSON-encoded twice, numbers as strings.</summary>
    private static string QueuePayload(string function, string message, int dequeueCount)
    {
        // JsonObject would encode a string once; the host's value is the JSON encoding of the JSON-encoded string.
        static JsonNode Twice(string text) => JsonValue.Create(JsonSerializer.Serialize(text));
        return new JsonObject
        {
            ["Data"] = new JsonObject { ["message"] = Twice(message) },
            ["Metadata"] = new JsonObject
            {
                ["DequeueCount"] = dequeueCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["ExpirationTime"] = "2026-01-08T00:00:00+00:00",
                ["Id"] = Twice(Guid.NewGuid().ToString()),
                ["InsertionTime"] = "2026-01-01T00:00:00+00:00",
                ["NextVisibleTime"] = "2026-01-01T00:10:00+00:00",
                ["PopReceipt"] = Twice("AgAAAAMAAAAAAAAAAgtnj8x+1QE="),
                ["sys"] = Sys(function),
            },
        }.ToJsonString();
    }

    private static JsonObject Sys(string function) => new()
    {
        ["MethodName"] = function, ["UtcNow"] = "2026-01-01T00:05:00.0123456Z", ["RandGuid"] = Guid.NewGuid().ToString(),
    };

    private async Task<HttpResponseMessage> InvokeAsync(string function, string payload)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/" + function)
        {
            Content = new StringContent(payload, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Azure-Functions-InvocationId", Guid.NewGuid().ToString());
        request.Headers.Add("X-Azure-Functions-HostVersion", "4.1037.0.0");
        request.Headers.UserAgent.ParseAdd("Azure-Functions-Host/4.1037.0.0");
        return await App.Client.SendAsync(request);
    }

    private async Task AssertSucceedsAsync(string function, string payload)
    {
        using var response = await InvokeAsync(function, payload);
        await AssertResultShapeAsync(function, response);
    }

    /// <summary>What the host's ReadAsAsync&lt;HttpScriptInvocationResult&gt; needs, and nothing it would mangle.</summary>
    private async Task AssertResultShapeAsync(string function, HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{function}: {(int)response.StatusCode} {body}\n{App.Output}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var result = JsonNode.Parse(body)!.AsObject();
        Assert.Equal(["Outputs", "Logs", "ReturnValue"], result.Select(p => p.Key).ToArray());

        // Functions declare no output bindings, so Outputs has exactly no names.
        Assert.Empty(result["Outputs"]!.AsObject());
        Assert.Null(result["ReturnValue"]);
        Assert.All(result["Logs"]!.AsArray(), log => Assert.Equal(JsonValueKind.String, log!.GetValueKind()));
        foreach (var text in StringOutputs(result["Outputs"]).Concat(StringOutputs(result["ReturnValue"])))
        {
            Assert.False(IsBase64(text), $"{function}: output string '{text}' is valid base64 and would be decoded by the host");
        }
    }

    private static IEnumerable<string> StringOutputs(JsonNode? node) => node switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => [value.GetValue<string>()],
        JsonObject obj => obj.SelectMany(p => StringOutputs(p.Value)),
        JsonArray array => array.SelectMany(StringOutputs),
        _ => [],
    };

    private static bool IsBase64(string text)
    {
        var buffer = new byte[text.Length];
        return Convert.TryFromBase64String(text, buffer, out _);
    }
}
