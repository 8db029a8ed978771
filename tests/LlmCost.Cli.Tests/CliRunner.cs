using System.Text;
using LlmCost.Core.Pricing;

namespace LlmCost.Cli.Tests;

/// <summary>Runs the real CLI entry point in-process with in-memory streams.</summary>
internal static class CliRunner
{
    public static async Task<(int Exit, string[] Lines, string Error)> RunAsync(string stdin, CliServices services, params string[] args)
    {
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(stdin));
        using var output = new MemoryStream();
        using var error = new StringWriter();
        int exit = await CliApp.RunAsync(args, new CliStreams(input, output, error), services);
        string text = Encoding.UTF8.GetString(output.ToArray());
        string[] lines = text.Length == 0 ? [] : text.TrimEnd('\n').Split('\n');
        return (exit, lines, error.ToString());
    }

    public static CliServices Services(IPriceCalculator calculator, string? traceDirectory = null) => new()
    {
        CalculatorFactory = _ => calculator,
        Time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero)),
        TraceDirectory = traceDirectory ?? CliServices.DefaultTraceDirectory,
    };
}

/// <summary>
/// A stand-in pricer with obvious prices ($1/M input, $2/M output, model "m1" only) for tests of the CLI's own
/// behaviour (line handling, ordering, streaming); real prices are tested with the PricingEngine.
/// </summary>
internal sealed class SimpleCalculator : IPriceCalculator
{
    private int _calls;

    public int Calls => _calls;

    public PriceQuote Price(PriceRequest request)
    {
        Interlocked.Increment(ref _calls);
        if (request.Model != "m1")
        {
            return PriceQuote.Unpriced($"unknown model '{request.Model}'", request.Provider);
        }

        decimal input = request.Usage.InputTokens * 1m / 1_000_000m;
        decimal output = request.Usage.OutputTokens * 2m / 1_000_000m;
        return new PriceQuote
        {
            Priced = true,
            CostUsd = input + output,
            ProviderId = request.Provider ?? "p1",
            ModelId = "m1",
            Breakdown =
            [
                new PriceComponent("input_mtok", request.Usage.InputTokens, 1m, input),
                new PriceComponent("output_mtok", request.Usage.OutputTokens, 2m, output),
            ],
        };
    }
}
