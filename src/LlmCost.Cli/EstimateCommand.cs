using System.Text.Json;
using LlmCost.Core.Estimation;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;
using LlmCost.Core;

namespace LlmCost.Cli;

/// <summary><c>llmcost estimate</c>: the worst-case cost of requests before they are made.</summary>
internal static class EstimateCommand
{
    public const string Help = """
        llmcost estimate [FILE] [--catalog FILE] [--policy FILE]
          Reads one JSON request (or a JSON array of them) from FILE or stdin:
            {"provider":"openai","model":"gpt-4o","max_tokens":1000,"messages":[{"role":"user","content":"..."}],
             "tools":[...], "input_tokens":N (instead of messages), "thinking_budget_tokens":N, "may_write_cache":false}
          Images are content parts with their size: {"type":"image","width":1024,"height":768,"detail":"high"}.
          Writes one JSON line per request: input_tokens, max_output_tokens, worst_case_cost_usd, priced, method
          ("exact:o200k_base", "estimate:anthropic-o200k-x1.35", "given"), and the breakdown of the worst case.
          Exit code 1 if any request was invalid.
        """;

    private const long MaxInputBytes = 64L * 1024 * 1024;

    public static async Task<int> RunAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        string? catalog = args.Option("catalog");
        string? policy = args.Option("policy");
        string? path = args.Positionals.Count > 0 ? args.Positionals[0] : null;
        args.EnsureAllUsed();
        if (args.Positionals.Count > 1)
        {
            throw new CliUsageException("estimate takes at most one FILE");
        }

        var estimator = new CostEstimator(services.CalculatorFactory(new PricingSource(catalog, policy)), services.Time);
        JsonDocument document;
        Stream input = path is null or "-" ? io.Input : File.OpenRead(path);
        try
        {
            // A request is small; read it whole, bounded so a runaway producer cannot exhaust memory.
            using var bounded = new MemoryStream();
            await CopyBoundedAsync(input, bounded, cancellationToken).ConfigureAwait(false);
            bounded.Position = 0;
            document = await JsonDocument.ParseAsync(bounded, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            await using var errorWriter = new JsonLineWriter(io.Output);
            errorWriter.Json.WriteStartObject();
            QuoteJson.WriteErrors(errorWriter.Json, [new FieldError("$", $"is not valid JSON: {ex.Message}")]);
            errorWriter.Json.WriteEndObject();
            await errorWriter.EndLineAsync(cancellationToken).ConfigureAwait(false);
            return 1;
        }
        finally
        {
            if (!ReferenceEquals(input, io.Input))
            {
                await input.DisposeAsync().ConfigureAwait(false);
            }
        }

        using (document)
        {
            await using var writer = new JsonLineWriter(io.Output);
            bool anyError = false;
            IEnumerable<JsonElement> requests = document.RootElement.ValueKind == JsonValueKind.Array
                ? document.RootElement.EnumerateArray()
                : [document.RootElement];
            foreach (JsonElement request in requests)
            {
                anyError |= !Write(writer.Json, request, estimator);
                await writer.EndLineAsync(cancellationToken).ConfigureAwait(false);
            }

            return anyError ? 1 : 0;
        }
    }

    private static bool Write(Utf8JsonWriter json, JsonElement element, CostEstimator estimator)
    {
        json.WriteStartObject();
        EstimateRequestParseResult parsed = EstimateRequestParser.Parse(element);
        if (!parsed.IsValid)
        {
            QuoteJson.WriteErrors(json, parsed.Errors);
            json.WriteEndObject();
            return false;
        }

        CostEstimate estimate = estimator.Estimate(parsed.Request!);
        if (estimate.Errors.Count > 0)
        {
            QuoteJson.WriteErrors(json, estimate.Errors);
            json.WriteEndObject();
            return false;
        }

        json.WriteNumber("input_tokens", estimate.InputTokens);
        json.WriteNumber("max_output_tokens", estimate.MaxOutputTokens);
        if (estimate.Priced)
        {
            json.WriteString("worst_case_cost_usd", MoneyFormat.Format(estimate.WorstCaseCostUsd));
        }
        else
        {
            json.WriteNull("worst_case_cost_usd");
        }

        json.WriteString("method", estimate.Method);
        PriceQuote quote = estimate.Quote ?? PriceQuote.Unpriced(estimate.Reason ?? "not priced");
        QuoteJson.WriteQuote(json, quote);
        json.WriteEndObject();
        return true;
    }

    private static async Task CopyBoundedAsync(Stream source, Stream destination, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            total += read;
            if (total > MaxInputBytes)
            {
                throw new CliUsageException($"estimate input is larger than {MaxInputBytes / (1024 * 1024)} MiB");
            }

            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
        }
    }
}
