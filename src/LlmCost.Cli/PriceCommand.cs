using System.Text;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;
using LlmCost.Core;

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
/// pair one-to-one with input lines. The input is streamed as UTF-8 bytes (no string per line: each line is parsed
/// straight from a pooled buffer), output in 64 KiB blocks, flushed whenever the input has nothing more buffered
/// (so interactive use answers at once). Memory stays constant: one read buffer, one write buffer.
/// Exit code: 0 when every line was priced, unpriced or blank; 1 when at least one line had an error.
/// </remarks>
internal static class PriceCommand
{
    private static readonly JsonEncodedText LineName = JsonEncodedText.Encode("line");
    private static readonly JsonEncodedText IdName = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText TimestampName = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText ShapeName = JsonEncodedText.Encode("usage_shape");

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

        await using var writer = new JsonLineWriter(io.Output);
        var lines = new Utf8LineReader(io.Input);
        var fast = new FastCallReader();
        long lineNumber = 0;
        bool anyError = false;
        while (await lines.NextAsync(writer, cancellationToken).ConfigureAwait(false) is { } line)
        {
            lineNumber++;
            int mark = writer.Mark;
            try
            {
                anyError |= !WriteResult(line, lineNumber, writer.Json, calculator, services.Time, !lenient, fast);
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
        }

        return anyError ? 1 : 0;
    }

    /// <returns>False when the line was an error.</returns>
    private static bool WriteResult(ReadOnlyMemory<byte> line, long lineNumber, Utf8JsonWriter json, IPriceCalculator calculator,
        TimeProvider time, bool strict, FastCallReader fast)
    {
        json.WriteStartObject();
        json.WriteNumber(LineName, lineNumber);
        if (Utf8LineReader.IsBlank(line.Span))
        {
            json.WriteString("skipped", "blank line");
            json.WriteEndObject();
            return true;
        }

        if (fast.TryRead(line, time.GetUtcNow(), out FastCallReader.Call simple))
        {
            if (!simple.Id.IsEmpty || simple.IdIsString)
            {
                json.WritePropertyName(IdName);
                if (simple.IdIsString)
                {
                    json.WriteStringValue(simple.Id.Span);
                }
                else
                {
                    json.WriteRawValue(simple.Id.Span, skipInputValidation: true);
                }
            }

            WritePriced(json, calculator, simple.Request, UsageShape.Canonical, null, []);
            return true;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            QuoteJson.WriteErrors(json, [new FieldError("$", $"is not valid JSON: {ex.Message}")]);
            json.WriteEndObject();
            return false;
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("id"u8, out JsonElement id)
                && id.ValueKind is JsonValueKind.String or JsonValueKind.Number)
            {
                json.WritePropertyName(IdName);
                id.WriteTo(json);
            }

            CallParseResult call = CallUsageParser.Parse(root, time.GetUtcNow(), strict);
            if (!call.IsValid)
            {
                QuoteJson.WriteErrors(json, call.Errors);
                json.WriteEndObject();
                return false;
            }

            WritePriced(json, calculator, call.Request!, call.Shape, call.ReportedCostUsd, call.IgnoredFields);
            return true;
        }
    }

    /// <summary>The rest of a priced line: quote, timestamp, usage shape, canonical usage; closes the object.</summary>
    private static void WritePriced(
        Utf8JsonWriter json, IPriceCalculator calculator, PriceRequest request, UsageShape? shape, decimal? reportedCostUsd, IReadOnlyList<string> ignoredFields)
    {
        PriceQuote quote = calculator.Price(request);
        QuoteJson.WriteQuote(json, quote);
        Span<char> stamp = stackalloc char[40];
        DateTime utc = request.Timestamp.UtcDateTime;
        json.WriteString(TimestampName, utc.TryFormat(stamp, out int length, "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture)
            ? stamp[..length]
            : utc.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture));
        if (shape is { } known)
        {
            json.WriteString(ShapeName, QuoteJson.ShapeName(known));
        }

        QuoteJson.WriteUsage(json, "usage", request.Usage);
        if (reportedCostUsd is { } reported)
        {
            json.WriteString("reported_cost_usd", MoneyFormat.Format(reported));
            if (quote.Priced)
            {
                json.WriteString("reported_cost_difference_usd", MoneyFormat.Format(reported - quote.CostUsd));
            }
        }

        if (ignoredFields.Count > 0)
        {
            json.WriteStartArray("ignored_fields");
            foreach (string field in ignoredFields)
            {
                json.WriteStringValue(field);
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }
}
