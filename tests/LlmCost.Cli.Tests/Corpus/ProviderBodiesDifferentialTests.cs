using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmCost.Cli.Tests.Corpus;
using LlmCost.Core.Pricing;
using LlmCost.Core.Tests.Pricing;
using Xunit.Abstractions;

namespace LlmCost.Cli.Tests;

/// <summary>
/// `llmcost price` with provider-native bodies (<c>raw_usage</c>) against @pydantic/genai-prices@0.1.8 reading the same
/// bodies with its own <c>extractUsage</c> and pricing them with <c>calcPrice</c> (tools/oracle/extract-oracle.mjs,
/// one node process for the batch), on hundreds of bodies per provider and API flavour (<see cref="ProviderBodyCorpus"/>).
/// Every body must agree to 1e-9 relative. Where the service reads more of a body than the extractors (documented
/// in docs/pricing.md and applied by the oracle script in the same words), the oracle adds the same. Where the
/// service deliberately differs (a used class without any price is unpriced, not $0) the priced part must agree.
/// </summary>
public sealed class ProviderBodiesDifferentialTests(ITestOutputHelper output)
{
    private const double RelativeTolerance = 1e-9;

    [Fact]
    public async Task LlmcostPrice_AgreesWithGenaiPricesExtractUsageAndCalcPrice_OnEveryBody()
    {
        OracleProcess.Locate("extract-oracle.mjs");
        List<CorpusCase> corpus = new ProviderBodyCorpus(seed: 20_261_123).Generate(perTemplate: 30);

        var cliInput = new List<string>(corpus.Count);
        var oracleInput = new List<string>(corpus.Count);
        for (int i = 0; i < corpus.Count; i++)
        {
            CorpusCase c = corpus[i];
            string timestamp = c.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            cliInput.Add(new JsonObject
            {
                ["id"] = i, ["provider"] = c.Provider, ["model"] = c.Model, ["timestamp"] = timestamp, ["raw_usage"] = c.Body.DeepClone(),
            }.ToJsonString());
            oracleInput.Add(new JsonObject
            {
                ["provider"] = c.Provider, ["extractor"] = c.Extractor, ["flavor"] = c.Flavor, ["model"] = c.Model, ["timestamp"] = timestamp, ["body"] = c.Body.DeepClone(),
            }.ToJsonString());
        }

        (_, string[] lines, string error) = await CliRunner.RunAsync(string.Join("\n", cliInput) + "\n", CliRunner.Services(PricingEngine.Default), "price");
        Assert.True(lines.Length == corpus.Count, $"llmcost price answered {lines.Length} of {corpus.Count} lines: {error}");
        IReadOnlyList<string> oracle = OracleProcess.Run(oracleInput, "extract-oracle.mjs");

        var mismatches = new List<string>();
        var outcome = new Dictionary<string, int>();
        for (int i = 0; i < corpus.Count; i++)
        {
            using JsonDocument ours = JsonDocument.Parse(lines[i]);
            using JsonDocument theirs = JsonDocument.Parse(oracle[i]);
            (string? problem, string kind) = Compare(ours.RootElement, theirs.RootElement);
            outcome[kind] = outcome.GetValueOrDefault(kind) + 1;
            if (problem is not null)
            {
                mismatches.Add($"{corpus[i].Group} {corpus[i].Model} ({corpus[i].Kind}): {problem}\n    llmcost: {lines[i]}\n    oracle:  {oracle[i]}\n    body: {corpus[i].Body.ToJsonString()}");
            }
        }

        output.WriteLine($"{corpus.Count} bodies, {corpus.Count - mismatches.Count} agree; outcomes: {string.Join(", ", outcome.OrderBy(o => o.Key).Select(o => $"{o.Key}={o.Value}"))}");
        foreach (IGrouping<string, CorpusCase> group in corpus.GroupBy(c => c.Group).OrderBy(g => g.Key))
        {
            output.WriteLine($"  {group.Key}: {group.Count()} bodies ({string.Join(", ", group.GroupBy(c => c.Kind).Select(k => $"{k.Key} {k.Count()}"))})");
        }

        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {corpus.Count} bodies disagree (first 10):\n{string.Join("\n", mismatches.Take(10))}");

        // The corpus really covers every provider flavour and every kind of response the issue names.
        Assert.True(corpus.GroupBy(c => c.Group).Count() >= 20);
        foreach (string kind in new[] { "image", "image-generation", "image-edit", "audio", "live-audio-video", "video", "cached", "cache-1h", "reasoning", "tool-use", "web-search", "file-search", "compaction", "ocr-annotated", "transcription", "voice", "long-context" })
        {
            Assert.True(corpus.Count(c => c.Kind == kind) >= 3, $"too few '{kind}' bodies");
        }

        Assert.True(outcome.GetValueOrDefault("priced") > corpus.Count / 2, "too few bodies priced on both sides");
    }

    private static (string? Problem, string Kind) Compare(JsonElement ours, JsonElement theirs)
    {
        if (theirs.TryGetProperty("error", out JsonElement reason))
        {
            bool refused = ours.TryGetProperty("error", out _) || (ours.TryGetProperty("priced", out JsonElement p) && !p.GetBoolean());
            return (refused ? null : $"genai-prices refuses it ({reason.GetString()}) but llmcost priced it", "both-refuse");
        }

        if (ours.TryGetProperty("error", out JsonElement ourError))
        {
            return ($"llmcost rejects it ({ourError.GetString()})", "llmcost-error");
        }

        JsonElement price = theirs.GetProperty("price");
        if (price.ValueKind == JsonValueKind.Null)
        {
            return (ours.GetProperty("priced").GetBoolean() || ours.TryGetProperty("model_id", out _) ? "genai-prices finds no model, llmcost does" : null, "not-found");
        }

        if (ours.GetProperty("provider_id").GetString() != theirs.GetProperty("provider_id").GetString()
            || ours.GetProperty("model_id").GetString() != theirs.GetProperty("model_id").GetString())
        {
            return ("different model", "model");
        }

        double expected = price.GetDouble();
        if (!ours.GetProperty("priced").GetBoolean())
        {
            if (!ours.TryGetProperty("known_cost_usd", out JsonElement known))
            {
                return ($"llmcost is unpriced ({ours.GetProperty("reason").GetString()}) where genai-prices prices {expected}", "unpriced");
            }

            return (Close(decimal.Parse(known.GetString()!, CultureInfo.InvariantCulture), expected) ? null : $"known cost {known.GetString()} vs {expected}", "unpriced-class");
        }

        decimal cost = decimal.Parse(ours.GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture);
        return (Close(cost, expected) ? null : $"cost {cost} vs {expected.ToString("R", CultureInfo.InvariantCulture)}", "priced");
    }

    private static bool Close(decimal actual, double expected)
    {
        double a = (double)actual;
        return Math.Abs(a - expected) <= (RelativeTolerance * Math.Max(Math.Abs(a), Math.Abs(expected))) + 1e-15;
    }
}
