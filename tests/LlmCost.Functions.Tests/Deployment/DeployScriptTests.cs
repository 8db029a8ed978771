using LlmCost.Functions.Tests.Contract;

namespace LlmCost.Functions.Tests.Deployment;

/// <summary>
/// scripts/deploy.sh: its --what-if plan works without an Azure CLI or login, bad arguments and secrets on the
/// command line are refused before anything runs, and the script passes shellcheck.
/// </summary>
public class DeployScriptTests
{
    private static string Script => Path.Combine(TestEnvironment.RepoRoot, "scripts", "deploy.sh");

    /// <summary>Without an Azure CLI (AZ points nowhere): the plan must come out of the template alone.</summary>
    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string program, IEnumerable<string> arguments, IDictionary<string, string?>? environment = null)
    {
        var variables = new Dictionary<string, string?> { ["AZ"] = "/nonexistent/az", ["LLMCOST_SMTP_PASSWORD"] = null };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            variables[key] = value;
        }

        return ProcessRunner.RunAsync(program, arguments, variables);
    }

    [Fact]
    public async Task What_if_without_an_azure_login_prints_parameters_predicted_resources_and_steps()
    {
        var (exitCode, stdout, stderr) = await RunAsync("bash", [Script, "-g", "rg-llmcost-dev", "-e", "dev", "-p", "storagePrefix=acme", "--what-if"],
            new Dictionary<string, string?> { ["LLMCOST_SMTP_PASSWORD"] = "smtp-secret-must-not-appear" });
        Assert.True(exitCode == 0, stdout + stderr);
        var output = stdout + stderr;

        Assert.Contains("environmentName     dev", stdout, StringComparison.Ordinal);
        Assert.Contains("storagePrefix       acme", stdout, StringComparison.Ordinal);
        Assert.Contains("not logged in", stderr, StringComparison.Ordinal);
        // Predicted by the template itself: the vault, the prefixed queues, the settings the function.json files need.
        Assert.Matches(@"Microsoft\.KeyVault/vaults  kv-dev-[a-z0-9]{13}\n", stdout);
        Assert.Contains("queues  ", stdout, StringComparison.Ordinal);
        Assert.Contains("/acme-alerts-poison", stdout, StringComparison.Ordinal);
        Assert.Contains("LLMCOST_ALERTS_QUEUE = acme-alerts", stdout, StringComparison.Ordinal);
        Assert.Contains("LlmCost__Storage__CreateResources = false", stdout, StringComparison.Ordinal);
        Assert.Matches(@"LlmCost__AdminKey = @Microsoft\.KeyVault\(VaultName=kv-dev-[a-z0-9]{13};SecretName=admin-key\)", stdout);
        // The steps, in order.
        string[] steps = ["az deployment group create", "az role assignment list", "config-zip", "configreferences/appsettings/refresh", "/api/health"];
        var positions = steps.Select(s => stdout.IndexOf(s, StringComparison.Ordinal)).ToList();
        Assert.All(positions, p => Assert.True(p >= 0, stdout));
        Assert.Equal(positions.Order(), positions);
        Assert.DoesNotContain("smtp-secret-must-not-appear", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task What_if_reports_a_parameter_the_template_refuses()
    {
        var (exitCode, stdout, stderr) = await RunAsync("bash", [Script, "-g", "rg", "-e", "dev", "-p", "maximumInstanceCount=39", "--what-if"]);
        Assert.Equal(1, exitCode);
        Assert.Contains("minimum allowable value is 40", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains("the template rejects these parameters", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("the resource group is required", "-e", "dev", "--what-if")]
    [InlineData("the environment name is required", "-g", "rg", "--what-if")]
    [InlineData("must be 2-8 lower-case letters or digits", "-g", "rg", "-e", "Dev", "--what-if")]
    [InlineData("is a secret: never on the command line", "-g", "rg", "-e", "dev", "-p", "adminKey=hunter2", "--what-if")]
    [InlineData("is a secret: never on the command line", "-g", "rg", "-e", "dev", "-p", "smtpPassword=hunter2")]
    [InlineData("takes NAME=VALUE", "-g", "rg", "-e", "dev", "-p", "storagePrefix")]
    [InlineData("unknown argument", "-g", "rg", "-e", "dev", "--force")]
    public async Task Bad_arguments_are_refused_before_anything_runs(string message, params string[] arguments)
    {
        var (exitCode, stdout, stderr) = await RunAsync("bash", [Script, .. arguments]);
        Assert.Equal(2, exitCode);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_real_deployment_needs_the_azure_cli_and_says_so()
    {
        var (exitCode, _, stderr) = await RunAsync("bash", [Script, "-g", "rg", "-e", "dev"]);
        Assert.Equal(1, exitCode);
        Assert.Contains("the Azure CLI ('/nonexistent/az') is not installed", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_deployment_scripts_pass_shellcheck()
    {
        var shellcheck = Environment.GetEnvironmentVariable("LLMCOST_SHELLCHECK") is { Length: > 0 } path && File.Exists(path)
            ? path
            : throw new InvalidOperationException(
                "LLMCOST_SHELLCHECK does not name shellcheck: run ./test.sh (its scripts/test.d/shellcheck.sh hook installs it), or apt-get install shellcheck and export LLMCOST_SHELLCHECK=$(command -v shellcheck).");
        var (exitCode, stdout, stderr) = await RunAsync(shellcheck, ["-x", "scripts/deploy.sh", "scripts/publish.sh", "scripts/generate-functions.sh", "scripts/bicep.sh"]);
        Assert.True(exitCode == 0, stdout + stderr);
    }
}
