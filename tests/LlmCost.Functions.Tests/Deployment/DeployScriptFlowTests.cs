using System.Text.Json.Nodes;
using LlmCost.Functions.Tests.Contract;
using LlmCost.Functions.Tests.Infrastructure;

namespace LlmCost.Functions.Tests.Deployment;

/// <summary>
/// The real (non what-if) path of scripts/deploy.sh, twice against one resource group. Azure itself cannot run
/// here, so `az` is a scripted stand-in that plays the platform's documented first-deployment behaviour (role
/// assignments listed late, a 403 on the first upload, a Key Vault reference that resolves on the second look) and
/// records every call; the health check the script polls is the real app's /api/health.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class DeployScriptFlowTests
{
    /// <summary>The stand-in `az`: state in FAKE_AZ_STATE, one JSON line per call in calls.jsonl.</summary>
    private const string FakeAz = """
        #!/usr/bin/env python3
        import json, os, re, stat, sys
        state = os.environ["FAKE_AZ_STATE"]
        args = sys.argv[1:]
        def path(name): return os.path.join(state, name)
        def has(name): return os.path.exists(path(name))
        def touch(name, text=""):
            with open(path(name), "w") as f: f.write(text)
        def count(name):
            n = int(open(path(name)).read()) + 1 if has(name) else 1
            touch(name, str(n)); return n
        call = {"args": args}
        for i, a in enumerate(args):
            if a.startswith("@") and os.path.isfile(a[1:]):
                call["file"] = open(a[1:]).read(); call["mode"] = oct(stat.S_IMODE(os.stat(a[1:]).st_mode))
        with open(path("calls.jsonl"), "a") as f: f.write(json.dumps(call) + "\n")
        line = " ".join(args)
        group = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-flow"
        vault = group + "/providers/Microsoft.KeyVault/vaults/kv-dev-flow"
        def out(value): print(json.dumps(value) if not isinstance(value, str) else value); sys.exit(0)
        if args[:2] == ["account", "show"]: sys.exit(0)
        if args[:2] == ["group", "show"]:
            if not has("group"): print("ResourceGroupNotFound", file=sys.stderr); sys.exit(3)
            if "--query" in args:
                q = args[args.index("--query") + 1]
                out(group if q == "id" else (open(path("salt")).read() if has("salt") else ""))
            sys.exit(0)
        if args[:2] == ["group", "create"]: touch("group"); sys.exit(0)
        if args[:2] == ["tag", "update"]:
            touch("salt", re.search(r"llmcost-name-salt=(\S+)", line).group(1)); sys.exit(0)
        if args[:3] == ["deployment", "group", "show"]:
            if not has("deployed"): print("DeploymentNotFound", file=sys.stderr); sys.exit(3)
            out(vault)
        if args[:3] == ["deployment", "group", "create"]:
            params = json.loads(call["file"])["parameters"]
            if "adminKey" in params: touch("secret")
            touch("deployed")
            out({"functionAppName": {"value": "func-llmcost-dev-flow"},
                 "functionAppId": {"value": group + "/providers/Microsoft.Web/sites/func-llmcost-dev-flow"},
                 "functionAppUrl": {"value": os.environ["FAKE_APP_URL"]},
                 "keyVaultName": {"value": "kv-dev-flow"}, "keyVaultId": {"value": vault},
                 "storageAccountId": {"value": group + "/providers/Microsoft.Storage/storageAccounts/stflow"},
                 "identityPrincipalId": {"value": "11111111-1111-1111-1111-111111111111"}})
        if args[0] == "rest":
            method, url = args[args.index("--method") + 1], args[args.index("--url") + 1]
            if url.endswith("/secrets?api-version=2023-07-01"): out({"value": [{"name": "admin-key"}] if has("secret") else []})
            if "/secrets/admin-key" in url and method == "put": touch("secret"); sys.exit(0)
            if url.endswith("/appsettings/refresh?api-version=2022-03-01"): sys.exit(0)
            if "/configreferences/appsettings?" in url:
                status = "AccessToKeyVaultDenied" if count("references") == 1 else "Resolved"
                out({"value": [{"name": "func/LlmCost__AdminKey", "properties": {"status": status}}]})
        if args[:3] == ["role", "assignment", "list"]:
            if count("roles") <= 2: sys.exit(0)  # created, not listed yet
            scope = args[args.index("--scope") + 1]
            out("Storage Blob Data Owner\nStorage Queue Data Contributor\nStorage Table Data Contributor" if "storageAccounts" in scope else "Key Vault Secrets User")
        if args[:4] == ["functionapp", "deployment", "source", "config-zip"]:
            if count("uploads") == 1: print("Forbidden (403): the identity cannot write the deployment container yet", file=sys.stderr); sys.exit(1)
            sys.exit(0)
        if args[:2] == ["functionapp", "restart"]: sys.exit(0)
        print("fake az: unexpected call: " + line, file=sys.stderr); sys.exit(99)
        """;

    [Fact]
    public async Task The_first_deployment_retries_what_propagation_delays_and_generates_the_admin_key_once_and_a_rerun_keeps_it()
    {
        await using var app = await LlmCostTestHost.StartAsync();
        using var azure = await FakeAzure.CreateAsync(app);
        var state = azure.State;
        var (exitCode, stdout, stderr) = await azure.DeployAsync();
        Assert.True(exitCode == 0, stdout + stderr);
        var calls = await CallsAsync(state);

        // The admin key: generated, passed to the template in a private parameters file, printed once, never in argv.
        var deployment = Assert.Single(calls, c => Args(c).StartsWith("deployment group create", StringComparison.Ordinal));
        Assert.Equal("0o600", (string?)deployment["mode"]);
        var parameters = JsonNode.Parse((string)deployment["file"]!)!["parameters"]!;
        var adminKey = (string)parameters["adminKey"]!["value"]!;
        Assert.True(adminKey.Length >= 64, adminKey);
        Assert.Equal("dev", (string?)parameters["environmentName"]!["value"]);
        Assert.Matches("^[0-9a-f]{8}$", (string?)parameters["nameSalt"]!["value"]);
        Assert.Equal(1, stdout.Split('\n').Count(l => l == adminKey));
        Assert.All(calls, c => Assert.DoesNotContain(adminKey, Args(c), StringComparison.Ordinal));
        Assert.DoesNotContain(adminKey, stderr, StringComparison.Ordinal);

        // The salt is set once on the new group; the upload got its 403 once and was retried; the references were
        // refreshed, polled until resolved, and the app restarted before health was polled.
        Assert.Single(calls, c => Args(c).StartsWith("tag update", StringComparison.Ordinal));
        Assert.Equal(2, calls.Count(c => Args(c).StartsWith("functionapp deployment source config-zip", StringComparison.Ordinal)));
        Assert.Contains("attempt 1 failed", stderr, StringComparison.Ordinal);
        Assert.Contains("not resolved yet: LlmCost__AdminKey (AccessToKeyVaultDenied)", stderr, StringComparison.Ordinal);
        var order = new[] { "deployment group create", "role assignment list", "functionapp deployment source config-zip", "rest --method post", "functionapp restart" }
            .Select(step => calls.FindIndex(c => Args(c).StartsWith(step, StringComparison.Ordinal))).ToList();
        Assert.All(order, i => Assert.True(i >= 0, string.Join('\n', calls.Select(Args))));
        Assert.Equal(order.Order(), order);
        Assert.Contains("healthy", stderr, StringComparison.Ordinal);

        // A rerun: same salt, no new admin key (the vault has one), nothing printed but where to read it.
        File.Delete(Path.Combine(state, "calls.jsonl"));
        File.Delete(Path.Combine(state, "uploads"));
        var rerun = await azure.DeployAsync();
        Assert.True(rerun.ExitCode == 0, rerun.Stdout + rerun.Stderr);
        var again = await CallsAsync(state);
        Assert.DoesNotContain(again, c => Args(c).StartsWith("tag update", StringComparison.Ordinal));
        var redeployment = JsonNode.Parse((string)Assert.Single(again, c => Args(c).StartsWith("deployment group create", StringComparison.Ordinal))["file"]!)!["parameters"]!;
        Assert.Null(redeployment["adminKey"]);
        Assert.Equal((string?)parameters["nameSalt"]!["value"], (string?)redeployment["nameSalt"]!["value"]);
        Assert.DoesNotContain(adminKey, rerun.Stdout + rerun.Stderr, StringComparison.Ordinal);
        Assert.Contains("admin key unchanged", rerun.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_app_that_stays_unhealthy_fails_the_deployment_within_its_bound_and_shows_why()
    {
        // The real app with an unresolved reference as its admin key: health is 503 naming the setting.
        await using var app = await LlmCostTestHost.StartAsync(o => o.Settings["LLMCOST_ADMIN_KEY"] = "@Microsoft.KeyVault(VaultName=kv-dev-flow;SecretName=admin-key)");
        using var azure = await FakeAzure.CreateAsync(app);
        var (exitCode, stdout, stderr) = await azure.DeployAsync(("LLMCOST_DEPLOY_HEALTH_WAIT", "3"));
        Assert.Equal(1, exitCode);
        Assert.Contains("health answered 503", stderr, StringComparison.Ordinal);
        Assert.Contains("LLMCOST_ADMIN_KEY", stderr, StringComparison.Ordinal);
        Assert.Contains("did not become healthy within 3s", stderr, StringComparison.Ordinal);
        // The key was stored before the failing step: it is shown anyway, or the deployer would have lost it.
        Assert.Contains("Admin key (generated now", stdout, StringComparison.Ordinal);
    }

    private static string Args(JsonNode call) => string.Join(' ', call["args"]!.AsArray().Select(a => (string)a!));

    private static async Task<List<JsonNode>> CallsAsync(string state) =>
        (await File.ReadAllLinesAsync(Path.Combine(state, "calls.jsonl"))).Select(l => JsonNode.Parse(l)!).ToList();

    /// <summary>A folder with the stand-in az, its state and a package; deploy.sh runs against it and the given app.</summary>
    private sealed class FakeAzure : IDisposable
    {
        private readonly string _folder;
        private readonly string _appUrl;

        private FakeAzure(string folder, string appUrl)
        {
            _folder = folder;
            _appUrl = appUrl;
        }

        public string State => Path.Combine(_folder, "state");

        public static async Task<FakeAzure> CreateAsync(LlmCostTestHost app)
        {
            var folder = Directory.CreateTempSubdirectory("llmcost-deploy-flow-").FullName;
            var az = Path.Combine(folder, "az");
            await File.WriteAllTextAsync(az, FakeAz.Replace("\r\n", "\n", StringComparison.Ordinal));
            File.SetUnixFileMode(az, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            // An empty zip: the stand-in never opens it, deploy.sh only checks that it exists.
            await File.WriteAllBytesAsync(Path.Combine(folder, "package.zip"), [0x50, 0x4b, 0x05, 0x06, .. new byte[18]]);
            Directory.CreateDirectory(Path.Combine(folder, "state"));
            return new FakeAzure(folder, app.BaseAddress.ToString().TrimEnd('/'));
        }

        public Task<(int ExitCode, string Stdout, string Stderr)> DeployAsync(params (string Name, string Value)[] settings)
        {
            var environment = new Dictionary<string, string?>
            {
                ["AZ"] = Path.Combine(_folder, "az"),
                ["FAKE_AZ_STATE"] = State,
                ["FAKE_APP_URL"] = _appUrl,
                ["LLMCOST_DEPLOY_POLL_INTERVAL"] = "1",
                ["LLMCOST_DEPLOY_RETRY_PAUSE"] = "1",
                ["LLMCOST_SMTP_PASSWORD"] = null,
            };
            foreach (var (name, value) in settings)
            {
                environment[name] = value;
            }

            return ProcessRunner.RunAsync(
                "bash",
                [Path.Combine(TestEnvironment.RepoRoot, "scripts", "deploy.sh"), "-g", "rg-flow", "-e", "dev", "-l", "westeurope", "--package", Path.Combine(_folder, "package.zip")],
                environment,
                TimeSpan.FromMinutes(4));
        }

        public void Dispose() => Directory.Delete(_folder, recursive: true);
    }
}
