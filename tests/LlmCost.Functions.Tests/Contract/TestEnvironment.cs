using System.Reflection;

namespace LlmCost.Functions.Tests.Contract;

/// <summary>Where the repository and the built app are, and the Azurite the test run started.</summary>
internal static class TestEnvironment
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The configuration the tests were built in (test.sh builds Release); the app is built alongside.</summary>
    public static string Configuration { get; } =
        typeof(TestEnvironment).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string AppDll
    {
        get
        {
            var path = Path.Combine(RepoRoot, "src", "LlmCost.Functions", "bin", Configuration, "net10.0", "LlmCost.Functions.dll");
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"The app is not built at {path}: build src/LlmCost.Functions ({Configuration}) first.");
            }

            return path;
        }
    }

    public static string StorageConnectionString =>
        Environment.GetEnvironmentVariable("LLMCOST_TEST_STORAGE") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                "LLMCOST_TEST_STORAGE is not set: run ./test.sh, or start Azurite (scripts/tools.sh start_azurite) and export its connection string.");

    /// <summary>A storage prefix of its own per test, so tests share one Azurite without seeing each other.</summary>
    public static string NewPrefix() => "t" + Guid.NewGuid().ToString("N")[..10];

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmCostFunctions.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("LlmCostFunctions.sln not found above " + AppContext.BaseDirectory);
    }
}
