using System.Text;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Tests.Pricing;

/// <summary>Importers (genai-prices, LiteLLM), format detection and the validator, on the LiteLLM sample and its traps.</summary>
public sealed class CatalogImportTests
{
    private static readonly DateTimeOffset s_at = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly string s_sample = Path.Combine(AppContext.BaseDirectory, "Pricing", "TestData", "litellm-sample.json");

    private static CatalogLoadResult LoadJson(string json, bool includeSuspicious = false) =>
        CatalogLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(json)), "test.json", includeSuspicious);

    [Fact]
    public void LiteLlmSample_IsDetected_Converted_AndItsTrapsReported()
    {
        CatalogLoadResult result = CatalogLoader.LoadFile(s_sample);

        Assert.True(result.Success, result.Error);
        Assert.Equal(CatalogFormat.LiteLlm, result.Format);
        PriceCatalog catalog = result.Catalog!;
        Assert.StartsWith("litellm:", catalog.Source);
        Assert.Equal(["openai", "anthropic", "google", "azure"], catalog.Providers.Select(p => p.Id));
        Assert.Equal(14, catalog.ModelCount);

        // 2.5 "per token" = 2,500,000 USD per million: both its prices flagged as errors.
        CatalogIssue[] perMillion = [.. result.Issues.Where(i => i.ModelId == "broken/per-million-typed-as-per-token")];
        Assert.Equal(2, perMillion.Length);
        Assert.All(perMillion, i => Assert.Equal((IssueSeverity.Error, "per-million-as-per-token"), (i.Severity, i.Code)));

        CatalogIssue cacheRead = Assert.Single(result.Issues, i => i.ModelId == "broken/cache-read-above-input");
        Assert.Equal((IssueSeverity.Error, "cache-read-above-input"), (cacheRead.Severity, cacheRead.Code));

        CatalogIssue embedding = Assert.Single(result.Issues, i => i.ModelId == "broken/chat-model-marked-embedding");
        Assert.Equal((IssueSeverity.Warning, "embedding-mode-on-chat-model"), (embedding.Severity, embedding.Code));

        // Batch prices are not modelled: said so, not mixed in (gpt-4o, gpt-4o-mini, gpt-4.1 have two each).
        Assert.Equal(6, result.Issues.Count(i => i.Code == "ignored-field"));
        Assert.All(result.Issues.Where(i => i.Code == "ignored-field"), i => Assert.Equal(IssueSeverity.Info, i.Severity));

        // Nothing else is suspicious in the sample.
        Assert.Equal(10, result.Issues.Count);
        Assert.Equal(["openai/broken/per-million-typed-as-per-token", "anthropic/broken/cache-read-above-input"], result.Excluded);
    }

    [Fact]
    public void LiteLlmPrices_AreConvertedExactly_IncludingTiersAndCacheTtls()
    {
        var engine = new PricingEngine(CatalogLoader.LoadFile(s_sample).Catalog!);
        var usage = new CanonicalUsage
        {
            InputTokens = 300_000,
            CacheReadTokens = 100_000,
            CacheWriteTokens = 50_000,
            CacheWrite1hTokens = 10_000,
            OutputTokens = 2_000,
        };

        PriceQuote quote = engine.Price(new PriceRequest("anthropic", "claude-sonnet-4-20250514", s_at, usage));

        // Total input 300k > 200k: reads 100000*0.6 = 0.06; 1h writes 10000*6 = 0.06 (no tier given);
        // 5m writes 40000*3.75 = 0.15; uncached 150000*6 = 0.9; output 2000*22.5 = 0.045 (all /1e6).
        Assert.True(quote.Priced, quote.Reason);
        Assert.Equal(1.215m, quote.CostUsd);
        Assert.Contains(new PriceComponent("cache_read_mtok", 100_000, 0.6m, 0.06m), quote.Breakdown);
        Assert.StartsWith("litellm:", quote.Source);
    }

    [Theory]
    [InlineData("azure", "azure/eu/gpt-4o-2024-08-06")]
    [InlineData("azure", "eu/gpt-4o-2024-08-06")]
    [InlineData("AZURE", "Azure/EU/gpt-4o-2024-08-06")]
    public void LiteLlmProviderPrefixedNames_ResolveWithOrWithoutThePrefix(string provider, string model)
    {
        var engine = new PricingEngine(CatalogLoader.LoadFile(s_sample).Catalog!);

        PriceQuote quote = engine.Price(new PriceRequest(provider, model, s_at, new CanonicalUsage { InputTokens = 1_000_000, OutputTokens = 100_000 }));

        // 2.75 + 0.1 * 11.
        Assert.Equal(3.85m, quote.CostUsd);
    }

    [Fact]
    public void LiteLlmProviderNames_AreAliasesOfGenaiPricesIds()
    {
        var engine = new PricingEngine(CatalogLoader.LoadFile(s_sample).Catalog!);

        PriceQuote quote = engine.Price(new PriceRequest("vertex_ai-language-models", "gemini-2.5-flash", s_at, new CanonicalUsage { InputTokens = 1_000_000 }));

        Assert.Equal("google", quote.ProviderId);
        Assert.Equal(0.3m, quote.CostUsd);
    }

    [Fact]
    public void RejectedEntries_StillResolve_ButAreUnpricedWithTheReason()
    {
        CatalogLoadResult result = CatalogLoader.LoadFile(s_sample);
        var engine = new PricingEngine(result.Catalog!);

        PriceQuote quote = engine.Price(new PriceRequest("openai", "broken/per-million-typed-as-per-token", s_at, new CanonicalUsage { InputTokens = 10 }));

        Assert.False(quote.Priced);
        Assert.Contains("rejected", quote.Reason);
        Assert.Contains("per-million price typed where a per-token price belongs", quote.Reason);
        Assert.DoesNotContain(result.Catalog!.ModelsOf("openai", s_at), m => m.ModelId.StartsWith("broken/", StringComparison.Ordinal));
    }

    [Fact]
    public void IncludeSuspicious_LoadsEverything_AndStillReports()
    {
        CatalogLoadResult result = CatalogLoader.LoadFile(s_sample, includeSuspicious: true);
        var engine = new PricingEngine(result.Catalog!);

        PriceQuote quote = engine.Price(new PriceRequest("openai", "broken/per-million-typed-as-per-token", s_at, new CanonicalUsage { InputTokens = 10 }));

        Assert.True(quote.Priced);
        Assert.Equal(25m, quote.CostUsd); // 10 tokens * 2.5 USD each: what the garbage says
        Assert.Empty(result.Excluded);
        Assert.Contains(result.Issues, i => i.Code == "per-million-as-per-token");
    }

    [Fact]
    public void CacheWriteKeyHoldingACacheReadPrice_IsReported()
    {
        const string json = """
            {"claude-x": {"litellm_provider": "anthropic", "mode": "chat",
              "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, "cache_creation_input_token_cost": 3e-07}}
            """;

        CatalogLoadResult result = LoadJson(json);

        CatalogIssue issue = Assert.Single(result.Issues);
        Assert.Equal((IssueSeverity.Warning, "cache-write-as-cache-read"), (issue.Severity, issue.Code));
        Assert.Empty(result.Excluded);
    }

    [Fact]
    public void GenaiPricesFormat_IsDetected_AndValidated()
    {
        const string json = """
            [{"id": "acme", "name": "Acme", "api_pattern": "x", "models": [
              {"id": "neg", "match": {"equals": "neg"}, "prices": {"input_mtok": -1, "output_mtok": 2}},
              {"id": "tiny", "match": {"equals": "tiny"}, "prices": {"input_mtok": 2.5e-06, "output_mtok": 1e-05}},
              {"id": "gap", "match": {"equals": "gap"}, "prices": {"cache_read_mtok": 1, "output_mtok": 2}},
              {"id": "odd", "match": {"equals": "odd"}, "prices": {"input_mtok": 1, "made_up_mtok": 2, "cache_write_mtok": 2, "cache_write_1h_mtok": 1.5}},
              {"id": "ok", "match": {"starts_with": "ok"}, "prices": [{"prices": {"input_mtok": 1}}, {"constraint": {"start_date": "2026-01-01"}, "prices": {"input_mtok": 2}}]}
            ]}]
            """;

        CatalogLoadResult result = LoadJson(json);

        Assert.True(result.Success, result.Error);
        Assert.Equal(CatalogFormat.GenaiPrices, result.Format);
        Assert.Contains(result.Issues, i => (i.ModelId, i.Code, i.Severity) == ("neg", "negative-price", IssueSeverity.Error));
        Assert.Equal(2, result.Issues.Count(i => (i.ModelId, i.Code, i.Severity) == ("tiny", "per-token-as-per-million", IssueSeverity.Warning)));
        Assert.Contains(result.Issues, i => (i.ModelId, i.Code, i.Severity) == ("gap", "inconsistent-table", IssueSeverity.Error));
        Assert.Contains(result.Issues, i => (i.ModelId, i.Code, i.Severity) == ("odd", "unsupported-price-key", IssueSeverity.Info));
        Assert.Contains(result.Issues, i => (i.ModelId, i.Code, i.Severity) == ("odd", "cache-write-1h-below-5m", IssueSeverity.Warning));
        Assert.DoesNotContain(result.Issues, i => i.ModelId == "ok");
        Assert.Equal(["acme/neg", "acme/gap"], result.Excluded);

        // An untyped start_date constraint (older data) is understood.
        var engine = new PricingEngine(result.Catalog!);
        PriceQuote quote = engine.Price(new PriceRequest("acme", "ok-1", s_at, new CanonicalUsage { InputTokens = 1_000_000 }));
        Assert.Equal(2m, quote.CostUsd);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("42", "expected a genai-prices array of providers or a LiteLLM object")]
    [InlineData("""[{"id": "a", "models": [{"id": "m", "match": {"equals": "m"}, "prices": {"input_mtok": "cheap"}}]}]""", "$[0].models[0].prices.input_mtok")]
    [InlineData("""[{"id": "a", "models": [{"id": "m", "match": {"like": "m"}, "prices": {}}]}]""", "$[0].models[0].match.like: unknown match operator")]
    [InlineData("""[{"id": "a", "models": [{"id": "m", "match": {"regex": "("}, "prices": {}}]}]""", "invalid regex")]
    public void MalformedFiles_AreAClearErrorNamingThePlace(string json, string expected)
    {
        CatalogLoadResult result = LoadJson(json);

        Assert.False(result.Success);
        Assert.Contains(expected, result.Error);
    }

    [Fact]
    public void MissingFile_IsAnError_NotAnException()
    {
        CatalogLoadResult result = CatalogLoader.LoadFile("/nonexistent/prices.json");

        Assert.False(result.Success);
        Assert.Contains("file not found", result.Error);
    }

    [Fact]
    public void BuiltInCatalog_HasNoErrors()
    {
        IReadOnlyList<CatalogIssue> issues = CatalogValidator.Validate(PriceCatalog.BuiltIn);

        Assert.DoesNotContain(issues, i => i.Severity == IssueSeverity.Error);
    }

    [Fact]
    public void BuiltInJson_LoadedAsAFile_IsTheSameCatalog()
    {
        string path = Path.Combine(OracleProcess.RepositoryRoot(), "src", "LlmCost.Core", "Pricing", "Data", "genai-prices-0.1.8.json");

        CatalogLoadResult result = CatalogLoader.LoadFile(path);

        Assert.Equal(CatalogFormat.GenaiPrices, result.Format);
        Assert.Equal(1694, result.Catalog!.ModelCount);
        Assert.Empty(result.Excluded);
    }

    [Fact]
    public void ListAndShow_GiveCurrentUnitPrices()
    {
        PriceCatalog catalog = PriceCatalog.BuiltIn;

        CatalogModelPrice o3 = Assert.Single(catalog.ListModels(s_at), m => m.ProviderId == "openai" && m.ModelId == "o3");
        CatalogModel shown = catalog.FindModelById("openai", "O3")!;

        Assert.Equal(8m, o3.Table.Prices.Single(p => p.Key == "output_mtok").Value.Base);
        Assert.Equal(2, shown.Prices.Count);
        Assert.Equal("start_date 2025-06-10", shown.Prices[1].Constraint!.ToString());
        Assert.Equal("""{"or":[{"equals":"o3"},{"equals":"o3-2025-04-16"}]}""", shown.Match.ToString());
    }

    [Fact]
    public void RealEmbeddingModels_AreNotFlagged()
    {
        const string json = """
            {"text-embedding-3-small": {"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 2e-08, "output_cost_per_token": 0.0, "output_vector_size": 1536},
             "gemini-embedding-001": {"litellm_provider": "gemini", "mode": "embedding", "input_cost_per_token": 1.5e-07, "output_cost_per_token": 0}}
            """;

        CatalogLoadResult result = LoadJson(json);

        Assert.Empty(result.Issues);
        Assert.Equal(0.02m, result.Catalog!.FindModelById("openai", "text-embedding-3-small")!.Prices[0].Table.Prices[0].Value.Base);
    }
}
