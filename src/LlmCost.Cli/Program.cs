// llmcost: price, estimate, catalog, replay. See CliApp.Usage.
using LlmCost.Cli;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

await using Stream input = Console.OpenStandardInput();
await using Stream output = Console.OpenStandardOutput();
try
{
    return await CliApp.RunAsync(args, new CliStreams(input, output, Console.Error), CliDefaults.Services, cancellation.Token);
}
catch (OperationCanceledException)
{
    return 130;
}
