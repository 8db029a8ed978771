using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Tests.Pricing;

/// <summary>
/// Each semantic of the built-in catalog with hand-computed expected values (prices read from
/// genai-prices-0.1.8.json by hand; arithmetic done on paper, in the comments).
/// </summary>
public sealed class PricingEngineTests
{
    private static readonly DateTimeOffset s_noon = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly PricingEngine _engine = PricingEngine.Default;

    private PriceQuote Price(string? provider, string model, CanonicalUsage usage, DateTimeOffset? at = null) =>
        _engine.Price(new PriceRequest(provider, model, at ?? s_noon, usage));

    [Fact]
    public void BuiltInCatalog_HasEveryProviderAndModel_WithProvenance()
    {
        PriceCatalog catalog = PriceCatalog.BuiltIn;

        Assert.Equal(43, catalog.Providers.Count);
        Assert.Equal(1694, catalog.ModelCount);
        Assert.Equal("genai-prices@0.1.8", catalog.Source);
    }

    [Fact]
    public void NestedCacheClasses_EachTokenAtItsMostSpecificClass()
    {
        // claude-sonnet-4-0: input 3, cache_write 3.75, cache_write_1h 6, cache_read 0.3, output 15, web 10/k.
        var usage = new CanonicalUsage
        {
            InputTokens = 10_000,
            CacheReadTokens = 2_000,
            CacheWriteTokens = 3_000,
            CacheWrite1hTokens = 1_000,
            OutputTokens = 500,
            WebSearches = 2,
        };

        PriceQuote quote = Price("anthropic", "claude-sonnet-4-20250514", usage);

        // 1h writes 1000*6 = 0.006; 5m writes 2000*3.75 = 0.0075; reads 2000*0.3 = 0.0006;
        // uncached 10000-2000-3000 = 5000*3 = 0.015; output 500*15 = 0.0075; 2 searches*10/1000 = 0.02.
        Assert.True(quote.Priced, quote.Reason);
        Assert.Equal(0.0566m, quote.CostUsd);
        Assert.Equal(0.0291m, quote.InputCostUsd);
        Assert.Equal(0.0075m, quote.OutputCostUsd);
        Assert.Equal("anthropic", quote.ProviderId);
        Assert.Equal("claude-sonnet-4-0", quote.ModelId);
        Assert.Equal("genai-prices@0.1.8", quote.Source);
        Assert.Contains(new PriceComponent("input_mtok", 5_000, 3m, 0.015m), quote.Breakdown);
        Assert.Contains(new PriceComponent("cache_write_mtok", 2_000, 3.75m, 0.0075m), quote.Breakdown);
        Assert.Contains(new PriceComponent("cache_write_1h_mtok", 1_000, 6m, 0.006m), quote.Breakdown);
        Assert.Contains(new PriceComponent("web_searches_kcount", 2, 10m, 0.02m), quote.Breakdown);
    }

    [Fact]
    public void NestedAudioClasses_CacheAudioReadIsPartOfBothAudioAndCacheReads()
    {
        // gpt-4o-mini-realtime-preview: input 0.6, cache_read 0.3, input_audio 10, cache_audio_read 0.3,
        // output 2.4, output_audio 20.
        var usage = new CanonicalUsage
        {
            InputTokens = 10_000,
            CacheReadTokens = 3_000,
            InputAudioTokens = 4_000,
            CacheAudioReadTokens = 1_000,
            OutputTokens = 2_000,
            OutputAudioTokens = 500,
        };

        PriceQuote quote = Price("openai", "gpt-4o-mini-realtime-preview-2024-12-17", usage);

        // cached audio 1000*0.3 = 0.0003; cached text 2000*0.3 = 0.0006; uncached audio 3000*10 = 0.03;
        // uncached text 10000-1000-2000-3000 = 4000*0.6 = 0.0024; output audio 500*20 = 0.01; text out 1500*2.4 = 0.0036.
        Assert.True(quote.Priced, quote.Reason);
        Assert.Equal(0.0469m, quote.CostUsd);
        Assert.Contains(new PriceComponent("input_mtok", 4_000, 0.6m, 0.0024m), quote.Breakdown);
        Assert.Contains(new PriceComponent("input_audio_mtok", 3_000, 10m, 0.03m), quote.Breakdown);
    }

    [Fact]
    public void AbsentClass_IsChargedAtNearestPricedAncestor()
    {
        // gpt-4o-audio-preview prices only input 2.5 and output 10: audio and cached tokens fall back to them.
        var usage = new CanonicalUsage
        {
            InputTokens = 1_000,
            InputAudioTokens = 600,
            CacheReadTokens = 100,
            OutputTokens = 200,
            OutputAudioTokens = 150,
        };

        PriceQuote quote = Price("openai", "gpt-4o-audio-preview", usage);

        // 1000*2.5/1e6 = 0.0025 + 200*10/1e6 = 0.002.
        Assert.True(quote.Priced, quote.Reason);
        Assert.Equal(0.0045m, quote.CostUsd);
    }

    [Theory]
    [InlineData(250_000, 1.5225)] // over 200k: 250000*6/1e6 = 1.5 + 1000*22.5/1e6 = 0.0225
    [InlineData(200_000, 0.615)] // exactly 200k is NOT above the tier start: 200000*3/1e6 = 0.6 + 1000*15/1e6
    public void Tiers_AreChosenByTotalInput_StrictlyAboveStart(long input, double expected)
    {
        PriceQuote quote = Price("anthropic", "claude-sonnet-4-5", new CanonicalUsage { InputTokens = input, OutputTokens = 1_000 });

        Assert.True(quote.Priced, quote.Reason);
        Assert.Equal((decimal)expected, quote.CostUsd);
    }

    [Fact]
    public void Tiers_CountCacheReadsInTheTotalAndApplyToEveryTokenOfTheKey()
    {
        // gemini-2.5-pro: input 1.25 / >200k 2.5; cache_read 0.125 / >200k 0.25. Total input 250k.
        PriceQuote quote = Price("google", "gemini-2.5-pro", new CanonicalUsage { InputTokens = 250_000, CacheReadTokens = 200_000 });

        // reads 200000*0.25 = 0.05; uncached 50000*2.5 = 0.125.
        Assert.Equal(0.175m, quote.CostUsd);
    }

    [Fact]
    public void HistoricPrices_TheEventTimestampPicksThePriceInForce()
    {
        var usage = new CanonicalUsage { InputTokens = 1_000_000, OutputTokens = 1_000_000 };

        // o3: 10 / 40 until 2025-06-10, then 2 / 8.
        PriceQuote before = Price("openai", "o3", usage, new DateTimeOffset(2025, 6, 9, 23, 59, 59, TimeSpan.Zero));
        PriceQuote after = Price("openai", "o3", usage, new DateTimeOffset(2025, 6, 10, 0, 0, 0, TimeSpan.Zero));
        PriceQuote afterInOtherZone = Price("openai", "o3", usage, new DateTimeOffset(2025, 6, 10, 1, 0, 0, TimeSpan.FromHours(2)));

        Assert.Equal(50m, before.CostUsd);
        Assert.Null(before.PriceVariant);
        Assert.Equal(10m, after.CostUsd);
        Assert.Equal("start_date 2025-06-10", after.PriceVariant);
        Assert.Equal(50m, afterInOtherZone.CostUsd); // 2025-06-09T23:00Z
    }

    [Theory]
    [InlineData(12, 0, 1.37)] // inside 00:30-16:30Z: 0.27 + 1.1
    [InlineData(0, 30, 1.37)] // the window's start is inclusive
    [InlineData(16, 30, 0.685)] // its end exclusive: default prices 0.135 + 0.55
    [InlineData(23, 0, 0.685)]
    public void TimeOfDayWindows_SelectPricesByUtcTimeOfDay(int hour, int minute, double expected)
    {
        var usage = new CanonicalUsage { InputTokens = 1_000_000, OutputTokens = 1_000_000 };

        PriceQuote quote = Price("deepseek", "deepseek-chat", usage, new DateTimeOffset(2026, 3, 1, hour, minute, 0, TimeSpan.Zero));

        Assert.Equal((decimal)expected, quote.CostUsd);
    }

    [Theory]
    [InlineData("2026-03-01T02:00:00Z", 0.44)] // before the start date, inside the 01:00-04:00 window: window prices
    [InlineData("2026-03-01T12:00:00Z", 0.14)] // before the start date, outside the windows: the default entry
    [InlineData("2026-09-01T12:00:00Z", 0.22)] // after the start date, outside the windows
    [InlineData("2026-09-01T09:59:59.999Z", 0.44)] // inside 06:00-10:00 (end exclusive)
    [InlineData("2026-09-01T10:00:00Z", 0.22)]
    public void DeepSeekV4_TimeWindowsWinOverTheStartDate_AsTheReverseScanOfTheOracleDoes(string at, double expected)
    {
        // deepseek-v4-flash entries: default (input 0.14), start_date 2026-08-17 (0.22), 01-04Z (0.44), 06-10Z (0.44).
        PriceQuote quote = Price("deepseek", "deepseek-v4-flash", new CanonicalUsage { InputTokens = 1_000_000 },
            DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal((decimal)expected, quote.CostUsd);
    }

    [Fact]
    public void RequestFee_IsChargedPerCall()
    {
        // perplexity sonar: input 1, output 1, 12 per thousand requests.
        PriceQuote quote = Price("perplexity", "sonar", new CanonicalUsage { InputTokens = 1_000, OutputTokens = 500 });

        // 0.001 + 0.0005 + 12/1000.
        Assert.Equal(0.0135m, quote.CostUsd);
        Assert.Contains(new PriceComponent("requests_kcount", 1, 12m, 0.012m), quote.Breakdown);
    }

    [Theory]
    [InlineData("gpt-4o", "openai", "gpt-4o")]
    [InlineData("  GPT-4o-2024-08-06 ", "openai", "gpt-4o")]
    [InlineData("claude-sonnet-4-20250514", "anthropic", "claude-sonnet-4-0")]
    public void ProviderIsInferredFromTheModelName_WhenNotGiven(string model, string provider, string modelId)
    {
        PriceQuote quote = Price(null, model, new CanonicalUsage { InputTokens = 1 });

        Assert.True(quote.Priced, quote.Reason);
        Assert.Equal(provider, quote.ProviderId);
        Assert.Equal(modelId, quote.ModelId);
    }

    [Fact]
    public void CompactDateSuffix_IsRetriedAsIsoDate()
    {
        // "gpt-4o-20240806" matches nothing; rewritten "gpt-4o-2024-08-06" is one of gpt-4o's names.
        PriceQuote quote = Price("openai", "gpt-4o-20240806", new CanonicalUsage { InputTokens = 1_000_000 });

        Assert.Equal("gpt-4o", quote.ModelId);
        Assert.Equal(2.5m, quote.CostUsd);
    }

    [Fact]
    public void UnknownModel_IsUnpricedWithReason_NeverZero()
    {
        PriceQuote quote = Price("openai", "gpt-imaginary-9", new CanonicalUsage { InputTokens = 10 });

        Assert.False(quote.Priced);
        Assert.Contains("gpt-imaginary-9", quote.Reason);
        Assert.Contains("openai", quote.Reason);
    }

    [Fact]
    public void UnknownProvider_IsUnpricedWithReason()
    {
        PriceQuote quote = Price("no-such-provider", "gpt-4o", new CanonicalUsage { InputTokens = 10 });

        Assert.False(quote.Priced);
        Assert.Contains("unknown provider 'no-such-provider'", quote.Reason);
    }

    [Fact]
    public void UsedClassWithoutAnyPrice_IsUnpriced_WithTheKnownPartReported()
    {
        // text-embedding-3-small prices input (0.02) only: output tokens have no price at all.
        PriceQuote quote = Price("openai", "text-embedding-3-small", new CanonicalUsage { InputTokens = 1_000_000, OutputTokens = 10 });

        Assert.False(quote.Priced);
        Assert.Equal(["output_tokens"], quote.UnpricedClasses);
        Assert.Contains("output_tokens", quote.Reason);
        Assert.Equal(0m, quote.CostUsd);
        Assert.Equal(0.02m, quote.KnownCostUsd);
    }

    [Fact]
    public void WebSearchesWithoutAPrice_AreUnpriced()
    {
        PriceQuote quote = Price("openai", "gpt-4o-audio-preview", new CanonicalUsage { InputTokens = 10, WebSearches = 1 });

        Assert.False(quote.Priced);
        Assert.Equal(["web_searches"], quote.UnpricedClasses);
    }

    [Fact]
    public void TryResolve_And_ModelsOf_ExposeResolvedPricesAtATimestamp()
    {
        PriceCatalog catalog = PriceCatalog.BuiltIn;

        Assert.True(catalog.TryResolve("openai", "o3-2025-04-16", new DateTimeOffset(2025, 7, 1, 0, 0, 0, TimeSpan.Zero), out CatalogModelPrice o3));
        Assert.Equal("o3", o3.ModelId);
        Assert.True(o3.Table.TryGetPrice("input_mtok", out PriceValue input));
        Assert.Equal(2m, input.Base);
        Assert.False(catalog.TryResolve("openai", "nope", DateTimeOffset.UnixEpoch, out _));

        IReadOnlyList<CatalogModelPrice> openai = catalog.ModelsOf("openai", s_noon);
        Assert.Equal(93, openai.Count);
        Assert.Contains(openai, m => m.ModelId == "gpt-4o-mini");
        Assert.Empty(catalog.ModelsOf("nope", s_noon));
    }

    [Fact]
    public void NegativeCount_IsUnpriced_NotACheaperCall()
    {
        PriceQuote quote = Price("openai", "gpt-4o", new CanonicalUsage { InputTokens = 1_000, OutputAudioTokens = -5 });

        Assert.False(quote.Priced);
        Assert.Contains("output_audio_tokens is negative", quote.Reason);
    }

    [Fact]
    public void PriceAs_PricesACatalogCandidate_ForAdaptiveBudgets()
    {
        CatalogModelPrice mini = Assert.Single(PriceCatalog.BuiltIn.ModelsOf("openai", s_noon), m => m.ModelId == "gpt-4o-mini");

        PriceQuote quote = _engine.PriceAs(mini, new CanonicalUsage { InputTokens = 1_000_000, OutputTokens = 100_000 });

        // 0.15 + 0.1 * 0.6
        Assert.Equal(0.21m, quote.CostUsd);
        Assert.Equal("gpt-4o-mini", PriceCatalog.BuiltIn.CallableName(mini.Provider, mini.Model));
    }

    [Fact]
    public void CallableName_ResolvesBackToTheModel_EvenWhenTheIdDoesNot()
    {
        PriceCatalog catalog = PriceCatalog.BuiltIn;
        int withName = 0;
        foreach (CatalogModelPrice model in catalog.ListModels(s_noon))
        {
            string? name = catalog.CallableName(model.Provider, model.Model);
            if (name is not null)
            {
                withName++;
                Assert.True(catalog.TryResolve(model.ProviderId, name, s_noon, out CatalogModelPrice back));
                Assert.Same(model.Model, back.Model);
            }
        }

        // Ids like aws "regional.anthropic.claude-opus-4-1-20250805-v1:0" match nothing; a literal of their rule does.
        Assert.True(withName > 1_650, $"only {withName} models have a callable name");
    }
}
