namespace LlmCost.Cli;

/// <summary><c>llmcost catalog</c>: list, show, validate and import price catalogs.</summary>
internal static class CatalogCommand
{
    public const string Help = """
        llmcost catalog list [--provider ID] [--at TIMESTAMP] [--json]
        llmcost catalog show MODEL [--provider ID] [--at TIMESTAMP]
        llmcost catalog validate FILE [--format genai-prices|litellm]
        llmcost catalog import FILE [--format genai-prices|litellm] [--out FILE]
        """;

    public static Task<int> RunAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        _ = services;
        _ = cancellationToken;
        _ = io;
        args.EnsureAllUsed();
        throw new CliUsageException("catalog commands need the pricing catalog API (coming with the pricing merge)");
    }
}
