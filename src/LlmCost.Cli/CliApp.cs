namespace LlmCost.Cli;

/// <summary>The <c>llmcost</c> entry point, callable in-process with any streams (tests) or from Program (console).</summary>
public static class CliApp
{
    public const string Usage = """
        llmcost - price LLM calls exactly

        Commands:
          price      JSON lines of calls on stdin -> one priced JSON line per input line
          estimate   worst-case cost of a request before it is made
          catalog    list | show MODEL | validate FILE | import FILE   (price catalog tools)
          replay     replay the Azure LLM inference trace 2023 through pricing and print totals
          load       bounded HTTP load generator: POST trace-based usage events to a local service
          import     stream past usage (OpenAI/Anthropic usage exports, LiteLLM spend logs, CSV) into a service
          help       this text, or `llmcost help COMMAND`
        """;

    public static async Task<int> RunAsync(string[] args, CliStreams io, CliServices services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(io);
        ArgumentNullException.ThrowIfNull(services);
        if (args.Length == 0)
        {
            await io.Error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
        }

        string command = args[0];
        try
        {
            switch (command)
            {
                case "price":
                    return await PriceCommand.RunAsync(CliArgs.Parse(args[1..], "lenient"), io, services, cancellationToken).ConfigureAwait(false);
                case "estimate":
                    return await EstimateCommand.RunAsync(CliArgs.Parse(args[1..]), io, services, cancellationToken).ConfigureAwait(false);
                case "catalog":
                    return await CatalogCommand.RunAsync(CliArgs.Parse(args[1..], "json"), io, services, cancellationToken).ConfigureAwait(false);
                case "replay":
                    return await ReplayCommand.RunAsync(CliArgs.Parse(args[1..], "json"), io, services, cancellationToken).ConfigureAwait(false);
                case "load":
                    return await LoadCommand.RunAsync(CliArgs.Parse(args[1..]), io, services, cancellationToken).ConfigureAwait(false);
                case "import":
                    return await Import.ImportCommand.RunAsync(CliArgs.Parse(args[1..], "restart", "no-progress"), io, services, cancellationToken).ConfigureAwait(false);
                case "help" or "--help" or "-h":
                    await io.Error.WriteLineAsync(HelpFor(args.Length > 1 ? args[1] : null)).ConfigureAwait(false);
                    return 0;
                default:
                    await io.Error.WriteLineAsync($"llmcost: unknown command '{command}'\n\n{Usage}").ConfigureAwait(false);
                    return 2;
            }
        }
        catch (CliUsageException ex)
        {
            await io.Error.WriteLineAsync($"llmcost {command}: {ex.Message}\n\n{HelpFor(command)}").ConfigureAwait(false);
            return 2;
        }
    }

    private static string HelpFor(string? command) => command switch
    {
        "price" => PriceCommand.Help,
        "estimate" => EstimateCommand.Help,
        "catalog" => CatalogCommand.Help,
        "replay" => ReplayCommand.Help,
        "load" => LoadCommand.Help,
        "import" => Import.ImportCommand.Help,
        _ => Usage,
    };
}
