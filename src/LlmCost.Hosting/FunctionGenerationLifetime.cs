using LlmCost.Storage;

namespace LlmCost.Hosting;

/// <summary>
/// <c>LlmCost.Functions --generate-functions DIR [--generate-host-json FILE] [--describe-functions FILE]</c>:
/// writes the function.json files (and host.json) from the definitions in code and exits before anything starts
/// (no server, no hosted service, no storage). Implemented as the host lifetime because that is the first thing
/// the host awaits, after every endpoint has been mapped.
/// </summary>
internal sealed class FunctionGenerationLifetime(
    FunctionCatalog catalog,
    IEnumerable<StorageResource> storageResources,
    IConfiguration configuration) : IHostLifetime
{
    public const string FunctionsKey = "generate-functions";
    public const string HostJsonKey = "generate-host-json";
    public const string DescribeKey = "describe-functions";

    /// <summary>The tables, queues and containers the app declares (logical names), for infra-bicep to create.</summary>
    public const string StorageKey = "describe-storage";

    public static bool IsRequested(IConfiguration configuration) =>
        new[] { FunctionsKey, HostJsonKey, DescribeKey, StorageKey }.Any(key => !string.IsNullOrWhiteSpace(configuration[key]));

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var definitions = catalog.GetDefinitions();
            if (configuration[FunctionsKey] is { Length: > 0 } directory)
            {
                FunctionManifest.WriteFunctions(directory, definitions);
                Console.WriteLine($"wrote {definitions.Count} function.json files to {Path.GetFullPath(directory)}");
            }

            if (configuration[HostJsonKey] is { Length: > 0 } hostJson)
            {
                File.WriteAllText(hostJson, FunctionManifest.HostJson());
                Console.WriteLine($"wrote {Path.GetFullPath(hostJson)}");
            }

            if (configuration[DescribeKey] is { Length: > 0 } describe)
            {
                File.WriteAllText(describe, FunctionManifest.CatalogJson(definitions));
            }

            if (configuration[StorageKey] is { Length: > 0 } storage)
            {
                File.WriteAllText(storage, FunctionManifest.StorageJson(storageResources));
                Console.WriteLine($"wrote {Path.GetFullPath(storage)}");
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine(ex.Message);
            Environment.Exit(1);
        }

        Environment.Exit(0);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
