using System.Text;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Cli;

/// <summary>
/// <c>llmcost price</c>: one JSON call per input line in, one JSON result per input line out, in order.
/// </summary>
/// <remarks>
/// Every output line carries <c>"line"</c> (the 1-based input line number) and echoes the input's <c>"id"</c> if it
/// had one. A good line gives the cost (<c>cost_usd</c> a decimal string, or null with <c>priced:false</c> and a
/// <c>reason</c> for an unknown model), the matched provider/model, the canonical usage and the per-class breakdown.
/// A bad line gives <c>{"line":N,"error":"field: message; ...","errors":[{"field","message"}]}</c> and the run goes
/// on. A blank (or whitespace-only) line gives <c>{"line":N,"skipped":"blank line"}</c>, so output lines always
/// pair one-to-one with input lines. The input is streamed: one line in memory at a time, output in 64 KiB blocks,
/// flushed whenever the input has nothing more buffered (so interactive use answers at once).
/// Exit code: 0 when every line was priced, unpriced or blank; 1 when at least one line had an error.
/// </remarks>
internal static class PriceCommand
{
    public const string Help = """
        llmcost price [--catalog FILE] [--policy FILE] [--lenient]
          Reads JSON lines on stdin, one LLM call each:
            {"provider":"anthropic","model":"claude-sonnet-4-20250514","timestamp":"2026-06-01T12:00:00Z","usage":{...}}
          with canonical usage keys (any genai-prices usage unit: input_tokens, cache_read_tokens, input_image_tokens,
          output_tokens, reasoning_tokens, output_image_tokens, audio_seconds, web_searches, ...) or "raw_usage": the
          provider's own usage object / response body (OpenAI, Azure, Anthropic, Gemini, Bedrock, DeepSeek, Mistral,
          Groq, xAI, Cohere, OpenRouter, Perplexity), and optionally "reported_cost_usd". Writes one JSON line per
          input line, in order.
          A missing timestamp means now. Blank lines give {"line":N,"skipped":"blank line"}.
          --catalog FILE  price from a genai-prices or LiteLLM JSON file instead of the built-in catalog
          --policy FILE   a pricing policy (tenant discounts, custom prices, ...) applied to lines with tenant_id
          --lenient       ignore unknown keys inside "usage" (default: reject them)
          Exit code 1 if any line had an error (all lines are still answered).
        """;

    public static async Task<int> RunAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        bool lenient = args.Flag("lenient");
        string? catalog = args.Option("catalog");
        string? policy = args.Option("policy");
        args.EnsureAllUsed();
        IPriceCalculator calculator = services.CalculatorFactory(new PricingSource(catalog, policy));

        using var reader = new StreamReader(io.Input, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true,
            bufferSize: 64 * 1024, leaveOpen: true);
        await using var writer = new JsonLineWriter(io.Output);
        long lineNumber = 0;
        bool anyError = false;
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            lineNumber++;
            int mark = writer.Mark;
            try
            {
                anyError |= !WriteResult(line, lineNumber, writer.Json, calculator, services.Time, !lenient);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A defect on one odd line must not take down a 100,000-line run: answer it and go on.
                writer.AbandonLine(mark);
                Utf8JsonWriter json = writer.Json;
                json.WriteStartObject();
                json.WriteNumber("line", lineNumber);
                json.WriteString("error", $"internal error: {ex.GetType().Name}: {ex.Message}");
                json.WriteEndObject();
                anyError = true;
            }

            await writer.EndLineAsync(cancellationToken).ConfigureAwait(false);

            // Nothing more buffered on stdin: the producer is slow or interactive, so let it see the answers now.
            if (reader.Peek() < 0)
            {
                await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        return anyError ? 1 : 0;
    }

    /// <returns>False when the line was an error.</returns>
    private static bool WriteResult(string line, long lineNumber, Utf8JsonWriter json, IPriceCalculator calculator,
        TimeProvider time, bool strict)
    {
        json.WriteStartObject();
        json.WriteNumber("line", lineNumber);
        if (string.IsNullOrWhiteSpace(line))
        {
            json.WriteString("skipped", "blank line");
            json.WriteEndObject();
            return true;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            QuoteJson.WriteErrors(json, [new UsageError("$", $"is not valid JSON: {ex.Message}")]);
            json.WriteEndObject();
            return false;
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("id", out JsonElement id)
                && id.ValueKind is JsonValueKind.String or JsonValueKind.Number)
            {
                json.WritePropertyName("id");
                id.WriteTo(json);
            }

            CallParseResult call = CallUsageParser.Parse(root, time.GetUtcNow(), strict);
            if (!call.IsValid)
            {
                QuoteJson.WriteErrors(json, call.Errors);
                json.WriteEndObject();
                return false;
            }

            PriceQuote quote = calculator.Price(call.Request!);
            QuoteJson.WriteQuote(json, quote);
            json.WriteString("timestamp", call.Request!.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture));
            if (call.Shape is { } shape)
            {
                json.WriteString("usage_shape", QuoteJson.ShapeName(shape));
            }

            QuoteJson.WriteUsage(json, "usage", call.Request.Usage);
            if (call.ReportedCostUsd is { } reported)
            {
                json.WriteString("reported_cost_usd", Money.Format(reported));
                if (quote.Priced)
                {
                    json.WriteString("reported_cost_difference_usd", Money.Format(reported - quote.CostUsd));
                }
            }

            if (call.IgnoredFields.Count > 0)
            {
                json.WriteStartArray("ignored_fields");
                foreach (string field in call.IgnoredFields)
                {
                    json.WriteStringValue(field);
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();
            return true;
        }
    }
}
