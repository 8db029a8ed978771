using System.Globalization;
using System.Text;
using System.Text.Json;
using CsCheck;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Tests.Pricing;

/// <summary>
/// Any catalog file an admin can upload (POST /api/pricing/catalogs) or validate (`llmcost catalog validate`) is
/// either loaded or refused with a reason: generated genai-prices arrays and LiteLLM objects, close to the real
/// shapes and broken in the ways files break (empty or blank names, prices as text, null, huge or tiny numbers,
/// tier starts beyond a token count, duplicate keys). Whatever loads can price any valid usage without throwing.
/// </summary>
public sealed class CatalogLoaderPropertyTests
{
    private static readonly DateTimeOffset s_at = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static readonly string[] Names =
        ["", " ", "m", "M", " m", "m ", "gpt-4o", "openai/gpt-4o", "azure/gpt-4o", "claude-sonnet-4-5", "a/b/c", "sample_spec", "\u0000", "é", "x\uD800", "..", "*"];

    private static readonly string[] Numbers =
    [
        "0", "-0", "1", "-1", "1e-6", "2.5e-06", "1e-30", "1e400", "-1e400", "1e20", "79228162514264337593543950335",
        "0.000000000000000000000000000001", "9223372036854775807", "1.5", "3", "15", "1000", "0.3",
    ];

    private static readonly string[] LiteLlmFields =
    [
        "input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost", "cache_creation_input_token_cost",
        "cache_creation_input_token_cost_above_1hr", "input_cost_per_audio_token", "output_cost_per_reasoning_token",
        "input_cost_per_token_above_128k_tokens", "output_cost_per_token_above_200k_tokens", "input_cost_per_token_above_0k_tokens",
        "input_cost_per_token_above_99999999999999999999k_tokens", "input_cost_per_token_above_9999999999999999k_tokens",
        "input_cost_per_token_batches", "search_context_cost_per_query", "litellm_provider", "mode", "max_input_tokens",
    ];

    private static readonly string[] PriceKeys =
    [
        "input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok", "input_audio_mtok",
        "output_audio_mtok", "requests_kcount", "web_search_kcount", "unknown_mtok", "",
    ];

    private static readonly Gen<string> Number = Gen.Frequency(
        (4, (IGen<string>)Gen.OneOf(Numbers)),
        (1, Gen.Decimal.Select(d => d.ToString(CultureInfo.InvariantCulture))),
        (1, Gen.Double.Select(d => double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture) : "1e999")));

    private static readonly Gen<string> Scalar = Gen.Frequency(
        (6, (IGen<string>)Number),
        (1, Gen.OneOf(Names).Select(Quote)),
        (1, Number.Select(Quote)),
        (1, Gen.OneOf("null", "true", "false", "{}", "[]", "{\"search_context_size_low\":0.03}")));

    private static readonly Gen<string> LiteLlmEntry = Gen.Frequency(
        (8, (IGen<string>)Gen.Select(Gen.OneOf(LiteLlmFields), Scalar).List[0, 6]
            .Select(fields => "{" + string.Join(",", fields.Select(f => Quote(f.Item1) + ":" + (f.Item1 == "litellm_provider" ? Quote(f.Item2.Trim('"')) : f.Item2))) + "}")),
        (1, Scalar));

    private static readonly Gen<string> LiteLlm = Gen.Select(Gen.OneOf(Names), LiteLlmEntry).List[0, 5]
        .Select(entries => "{" + string.Join(",", entries.Select(e => Quote(e.Item1) + ":" + e.Item2)) + "}");

    private static readonly Gen<string> PriceValue = Gen.Frequency(
        (6, (IGen<string>)Number),
        (1, Gen.Select(Number, Gen.Select(Gen.OneOf("0", "-1", "128000", "9223372036854775807", "1e30", "\"x\""), Number).List[0, 3])
            .Select(t => "{\"base\":" + t.Item1 + ",\"tiers\":[" + string.Join(",", t.Item2.Select(x => "{\"start\":" + x.Item1 + ",\"price\":" + x.Item2 + "}")) + "]}")),
        (1, Scalar));

    private static readonly Gen<string> Prices = Gen.Select(Gen.OneOf(PriceKeys), PriceValue).List[0, 5]
        .Select(prices => "{" + string.Join(",", prices.Select(p => Quote(p.Item1) + ":" + p.Item2)) + "}");

    private static readonly Gen<string> Match = Gen.Frequency(
        (5, (IGen<string>)Gen.Select(Gen.OneOf("equals", "starts_with", "ends_with", "contains", "regex", "nope"), Gen.OneOf(Names.Concat(["(", "a+", "[", "\\d"]).ToArray()))
            .Select(m => "{" + Quote(m.Item1) + ":" + Quote(m.Item2) + "}")),
        (1, Gen.OneOf("{\"or\":[]}", "{\"and\":[{\"equals\":\"m\"}]}", "{}", "null", "\"m\"")));

    private static readonly Gen<string> Model = Gen.Select(Gen.OneOf(Names), Match, Gen.Frequency(
            (4, (IGen<string>)Prices),
            (1, Gen.Select(Gen.OneOf("\"2025-01-01\"", "\"2025-13-45\"", "null", "1"), Prices).List[0, 3]
                .Select(list => "[" + string.Join(",", list.Select(x => "{\"constraint\":{\"start_date\":" + x.Item1 + "},\"prices\":" + x.Item2 + "}")) + "]")),
            (1, Scalar)),
        Gen.OneOf("", ",\"context_window\":-5", ",\"context_window\":1e30", ",\"deprecated\":true"))
        .Select(m => "{\"id\":" + Quote(m.Item1) + ",\"match\":" + m.Item2 + ",\"prices\":" + m.Item3 + m.Item4 + "}");

    private static readonly Gen<string> GenaiPrices = Gen.Select(Gen.OneOf(Names), Model.List[0, 4]).List[0, 3]
        .Select(providers => "[" + string.Join(",", providers.Select(p => "{\"id\":" + Quote(p.Item1) + ",\"models\":[" + string.Join(",", p.Item2) + "]}")) + "]");

    [Fact]
    public void Any_uploaded_file_is_loaded_or_refused_with_a_reason_and_what_loads_prices_any_valid_usage()
    {
        Gen.Frequency((1, (IGen<string>)LiteLlm), (1, GenaiPrices)).Sample(
            json =>
            {
                foreach (bool includeSuspicious in new[] { false, true })
                {
                    CatalogLoadResult result = CatalogLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(json)), "upload", includeSuspicious);
                    Assert.True(result.Catalog is not null ^ result.Error is not null, "exactly one of a catalog and a reason");
                    if (result.Catalog is null)
                    {
                        continue;
                    }

                    var engine = new PricingEngine(result.Catalog);
                    foreach (CatalogProvider provider in result.Catalog.Providers)
                    {
                        foreach (CatalogModel model in provider.Models)
                        {
                            Assert.False(string.IsNullOrWhiteSpace(model.Id), "a loaded model has a name");
                            PriceQuote quote = engine.Price(new PriceRequest(provider.Id, model.Id, s_at, Usage()));
                            Assert.True(quote.Priced || quote.Reason is not null);
                            Assert.True(!quote.Priced || quote.CostUsd >= 0, $"{provider.Id}/{model.Id}: {quote.CostUsd}");
                        }
                    }
                }
            },
            iter: 4_000);
    }

    [Fact]
    public void LiteLlm_entries_that_would_be_silently_wrong_are_errors_naming_the_field()
    {
        CatalogLoadResult result = CatalogLoader.Load(
            new MemoryStream(Encoding.UTF8.GetBytes("""
                {
                  "": {"input_cost_per_token": 1e-6},
                  " padded ": {"input_cost_per_token": 1e-6},
                  "text-price": {"input_cost_per_token": "2e-06", "output_cost_per_token": 1e-5},
                  "null-price": {"input_cost_per_token": null, "output_cost_per_token": 1e-5},
                  "huge": {"input_cost_per_token": 79228162514264337593543950335},
                  "far-tier": {"input_cost_per_token": 1e-6, "input_cost_per_token_above_9999999999999999k_tokens": 2e-6},
                  "twice": {"input_cost_per_token": 1e-6, "input_cost_per_token": 2e-6}
                }
                """)),
            "upload");

        Assert.True(result.Success, result.Error);
        string[] errors = [.. result.Issues.Where(i => i.Severity == IssueSeverity.Error).Select(i => $"{i.ModelId} {i.Code}")];
        Assert.Equal(
            [" unreadable-entry", " padded  unreadable-entry", "text-price unreadable-price", "huge unreadable-price", "far-tier unreadable-price", "twice duplicate-price"],
            errors);
        Assert.Contains(result.Issues, i => i.ModelId == "text-price" && i.Message.Contains("input_cost_per_token", StringComparison.Ordinal));

        // null is LiteLLM's own "no price": the model loads with what it has.
        CatalogModel nullPrice = Assert.Single(result.Catalog!.Providers.SelectMany(p => p.Models), m => m.Id == "null-price");
        Assert.Equal(["output_mtok"], nullPrice.Prices[0].Table.Prices.Select(p => p.Key));
        // The others are refused: a blank name is not loaded at all, a named one stays so its name does not
        // resolve to another model's prices, but prices as unpriced, saying why.
        Assert.DoesNotContain(result.Catalog.Providers.SelectMany(p => p.Models), m => m.Id is "" or " padded ");
        var engine = new PricingEngine(result.Catalog);
        foreach (string refused in new[] { "text-price", "huge", "far-tier", "twice" })
        {
            PriceQuote quote = engine.Price(new PriceRequest("unknown", refused, s_at, new CanonicalUsage { InputTokens = 1_000, OutputTokens = 1 }));
            Assert.False(quote.Priced, refused);
            Assert.Contains("rejected", quote.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_price_beyond_any_real_one_is_refused_and_a_table_that_still_has_one_prices_as_unpriced_not_a_crash()
    {
        const string Json = """[{"id":"p","models":[{"id":"m","match":{"equals":"m"},"prices":{"input_mtok":3,"requests_kcount":79228162514264337593543950335}}]}]""";
        CatalogLoadResult checkedLoad = CatalogLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(Json)), "upload");
        CatalogIssue issue = Assert.Single(checkedLoad.Issues, i => i.Severity == IssueSeverity.Error);
        Assert.Equal(("m", "implausible-price"), (issue.ModelId, issue.Code));
        Assert.Contains("requests_kcount", issue.Message, StringComparison.Ordinal);

        // Taken as it is (as a catalog stored before prices were bounded would be): the largest valid usage's cost
        // does not fit a decimal, and the quote says so instead of throwing.
        CatalogLoadResult asIs = CatalogLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(Json)), "upload", includeSuspicious: true);
        PriceQuote quote = new PricingEngine(asIs.Catalog!).Price(new PriceRequest("p", "m", s_at, Usage()));
        Assert.False(quote.Priced);
        Assert.Contains("beyond any amount", quote.Reason, StringComparison.Ordinal);

        // A reasonable request on the same table is priced exactly.
        PriceQuote small = new PricingEngine(asIs.Catalog!).Price(new PriceRequest("p", "m", s_at, new CanonicalUsage { InputTokens = 1_000_000 }));
        Assert.True(small.Priced, small.Reason);
        Assert.Equal(3m + (79228162514264337593543950335m / 1_000m), small.CostUsd);
    }

    [Theory]
    [InlineData("""{"tenants":{"acme":{"regional_uplift":101}}}""", "tenants.acme.regional_uplift")]
    [InlineData("""{"models":[{"model":"m","prices":{"input_mtok":100001}}]}""", "models[0].prices.input_mtok")]
    [InlineData("""{"models":[{"model":"m","prices":{"requests_kcount":{"base":1,"tiers":[{"start":10,"price":1e20}]}}}]}""", "models[0].prices.requests_kcount")]
    public void A_policy_price_or_uplift_beyond_any_real_one_is_refused_naming_the_field(string json, string field)
    {
        PolicyLoadResult result = PricingPolicy.Load(json);
        Assert.Null(result.Policy);
        Assert.Contains(result.Errors, e => e.StartsWith(field + ":", StringComparison.Ordinal));
    }

    private static CanonicalUsage Usage() => new()
    {
        InputTokens = UsageCounts.MaxCount,
        CacheReadTokens = 1_000,
        CacheWriteTokens = 1_000,
        OutputTokens = UsageCounts.MaxCount,
        Requests = UsageCounts.MaxCount,
        WebSearches = UsageCounts.MaxCount,
    };

    private static string Quote(string value) => JsonSerializer.Serialize(value);
}
