using System.Diagnostics;
using System.Text;

namespace LlmCost.Core.Tests.Pricing;

/// <summary>
/// Runs a tools/oracle script (the @pydantic/genai-prices reference: price-oracle.mjs for calcPrice, extract-oracle.mjs
/// for extractUsage + calcPrice) once for a whole batch of cases: one node process, one JSON line in and out per case.
/// </summary>
internal static class OracleProcess
{
    public const string NodeToolsVariable = "LLMCOST_NODE_TOOLS";

    /// <summary>Fails (never skips) with a clear message when the tooling is missing.</summary>
    public static (string Node, string Script, string NodeModules) Locate(string scriptName = "price-oracle.mjs")
    {
        string? nodeModules = Environment.GetEnvironmentVariable(NodeToolsVariable);
        if (string.IsNullOrWhiteSpace(nodeModules))
        {
            Assert.Fail($"{NodeToolsVariable} is not set: it must point at the node_modules folder holding @pydantic/genai-prices@0.1.8 " +
                "(./test.sh sets it; for a manual run: export LLMCOST_NODE_TOOLS=$PWD/tools/node_modules).");
        }

        string package = Path.Combine(nodeModules, "@pydantic", "genai-prices", "dist", "index.js");
        if (!File.Exists(package))
        {
            Assert.Fail($"{NodeToolsVariable}={nodeModules} does not hold @pydantic/genai-prices ({package} is missing): run scripts/tools.sh ensure_node_tools.");
        }

        string? node = FindOnPath("node");
        if (node is null)
        {
            Assert.Fail("node is not on PATH: the differential test needs Node.js (>= 20) to run the genai-prices reference calculator.");
        }

        string script = Path.Combine(RepositoryRoot(), "tools", "oracle", scriptName);
        if (!File.Exists(script))
        {
            Assert.Fail($"The oracle script {script} is missing.");
        }

        return (node, script, nodeModules);
    }

    public static IReadOnlyList<string> Run(IReadOnlyList<string> caseLines, string scriptName = "price-oracle.mjs")
    {
        (string node, string script, string nodeModules) = Locate(scriptName);
        var start = new ProcessStartInfo(node)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(nodeModules);

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        // Write stdin while stdout is drained, so neither pipe can fill up and deadlock.
        Task writer = Task.Run(() =>
        {
            foreach (string line in caseLines)
            {
                process.StandardInput.Write(line);
                process.StandardInput.Write('\n');
            }

            process.StandardInput.Close();
        });
        Task<string> errors = process.StandardError.ReadToEndAsync();
        var results = new List<string>(caseLines.Count);
        string? output;
        while ((output = process.StandardOutput.ReadLine()) is not null)
        {
            results.Add(output);
        }

        writer.GetAwaiter().GetResult();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the oracle did not exit within 60 s");
        }

        if (process.ExitCode != 0 || results.Count != caseLines.Count)
        {
            Assert.Fail($"the oracle failed (exit {process.ExitCode}, {results.Count}/{caseLines.Count} results): {errors.GetAwaiter().GetResult()}");
        }

        return results;
    }

    public static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null)
        {
            if (File.Exists(Path.Combine(directory, "LlmCostFunctions.sln")))
            {
                return directory;
            }

            directory = Path.GetDirectoryName(directory);
        }

        throw new InvalidOperationException($"LlmCostFunctions.sln not found above {AppContext.BaseDirectory}");
    }

    private static string? FindOnPath(string executable)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(directory, executable);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
