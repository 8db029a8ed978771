using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Tests.Pricing;

/// <summary>
/// Overrides precedence with hand-computed values. List prices used: gpt-4o input 2.5 / output 10,
/// gpt-4o-mini 0.15 / 0.6 (USD per million). Usage everywhere: 1,000,000 input + 100,000 output, so the list
/// cost is 2.5 + 1.0 = 3.5 for gpt-4o and 0.15 + 0.06 = 0.21 for gpt-4o-mini.
/// </summary>
public sealed class PricingPolicyTests
{
    private const string PolicyJson = """
        {
          // Shared by every tenant: an Azure deployment name of the platform.
          "models": [
            {"model": "shared-deploy", "provider": "azure", "map_to_provider": "openai", "map_to_model": "gpt-4o-mini"}
          ],
          "tenants": {
            "acme": {
              "discount_percent": 10,
              "regional_uplift": 1.1,
              "volume_tiers": [
                {"basis": "monthly_spend_usd", "threshold": 1000, "discount_percent": 15},
                {"basis": "monthly_tokens", "threshold": 1000000000, "discount_percent": 20}
              ],
              "models": [
                {"model": "acme-gpt4o-eu", "provider": "azure", "map_to_provider": "openai", "map_to_model": "gpt-4o"},
                {"model": "acme-special", "prices": {"input_mtok": 1, "output_mtok": 4}},
                {"model": "ft:*", "map_to_model": "gpt-4o-mini", "discount_percent": 50}
              ]
            }
          }
        }
        """;

    private static readonly DateTimeOffset s_at = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly CanonicalUsage s_usage = new() { InputTokens = 1_000_000, OutputTokens = 100_000 };
    private readonly PricingEngine _engine;

    public PricingPolicyTests()
    {
        PolicyLoadResult loaded = PricingPolicy.Load(PolicyJson, PriceCatalog.BuiltIn);
        Assert.True(loaded.IsValid, string.Join("; ", loaded.Errors));
        _engine = new PricingEngine(PriceCatalog.BuiltIn, loaded.Policy);
    }

    private PriceQuote Price(string? tenant, string? provider, string model, MonthToDateUsage? monthToDate = null) =>
        _engine.Price(new PriceRequest(provider, model, s_at, s_usage, tenant) { MonthToDate = monthToDate });

    [Fact]
    public void NoTenant_PaysListPrices()
    {
        PriceQuote quote = Price(null, "openai", "gpt-4o");

        Assert.Equal(3.5m, quote.CostUsd);
        Assert.Equal(3.5m, quote.ListCostUsd);
        Assert.Equal("genai-prices@0.1.8", quote.Source);
    }

    [Fact]
    public void TenantTerms_UpliftThenNegotiatedDiscount()
    {
        PriceQuote quote = Price("acme", "openai", "gpt-4o");

        // 3.5 * 1.1 * (1 - 0.10)
        Assert.Equal(3.465m, quote.CostUsd);
        Assert.Equal(3.5m, quote.ListCostUsd);
        Assert.Contains("regional uplift x1.1", quote.Source);
        Assert.Contains("negotiated discount 10%", quote.Source);
        Assert.Equal(quote.CostUsd, quote.Breakdown.Sum(c => c.CostUsd));
        Assert.Contains(new PriceComponent("input_mtok", 1_000_000, 2.475m, 2.475m), quote.Breakdown); // 2.5 * 1.1 * 0.9
    }

    [Fact]
    public void VolumeTier_ReplacesTheNegotiatedDiscount_WhenReached()
    {
        PriceQuote below = Price("acme", "openai", "gpt-4o", new MonthToDateUsage(999.99m, 0));
        PriceQuote spend = Price("acme", "openai", "gpt-4o", new MonthToDateUsage(1_000m, 0));
        PriceQuote both = Price("acme", "openai", "gpt-4o", new MonthToDateUsage(1_500m, 2_000_000_000));

        Assert.Equal(3.465m, below.CostUsd); // still the 10% negotiated discount
        Assert.Equal(3.2725m, spend.CostUsd); // 3.5 * 1.1 * 0.85
        Assert.Contains("volume tier >= 1000 USD this month 15%", spend.Source);
        Assert.Equal(3.08m, both.CostUsd); // the larger reached tier: 3.5 * 1.1 * 0.80
    }

    [Fact]
    public void TenantMapping_PricesADeploymentNameAsItsBaseModel()
    {
        PriceQuote quote = Price("acme", "azure", "ACME-gpt4o-eu");

        Assert.True(quote.Priced, quote.Reason);
        Assert.Equal("gpt-4o", quote.ModelId);
        Assert.Equal(3.465m, quote.CostUsd);
        Assert.Contains("tenant:acme maps 'ACME-gpt4o-eu' to openai/gpt-4o", quote.Source);
    }

    [Fact]
    public void ExplicitPrices_AreNet_NoUpliftNorDiscount()
    {
        PriceQuote quote = Price("acme", "openai", "acme-special", new MonthToDateUsage(5_000m, 0));

        // 1 * 1 + 0.1 * 4
        Assert.Equal(1.4m, quote.CostUsd);
        Assert.Equal("tenant:acme custom prices for 'acme-special'", quote.Source);
    }

    [Fact]
    public void RuleDiscount_WinsOverVolumeAndNegotiated_UpliftStillApplies()
    {
        PriceQuote quote = Price("acme", "openai", "ft:gpt-4o-mini:acme:x1", new MonthToDateUsage(5_000m, 0));

        // 0.21 * 1.1 * 0.5
        Assert.Equal(0.1155m, quote.CostUsd);
        Assert.Equal("gpt-4o-mini", quote.ModelId);
    }

    [Fact]
    public void PolicyWideMapping_AppliesToEveryTenant_BelowTenantRules_WithTheTenantsTerms()
    {
        PriceQuote other = Price("beta", "azure", "shared-deploy");
        PriceQuote acme = Price("acme", "azure", "shared-deploy");
        PriceQuote wrongProvider = Price("beta", "openai", "shared-deploy");

        Assert.Equal(0.21m, other.CostUsd);
        Assert.Equal(0.2079m, acme.CostUsd); // 0.21 * 1.1 * 0.9
        Assert.False(wrongProvider.Priced); // the rule is for azure only; openai has no such model
    }

    [Fact]
    public void MappingToAnUnknownModel_IsUnpricedWithTheMappingInTheReason()
    {
        PolicyLoadResult loaded = PricingPolicy.Load("""{"tenants": {"t": {"models": [{"model": "x", "map_to_model": "nope-9"}]}}}""");
        var engine = new PricingEngine(PriceCatalog.BuiltIn, loaded.Policy);

        PriceQuote quote = engine.Price(new PriceRequest("openai", "x", s_at, s_usage, "t"));

        Assert.False(quote.Priced);
        Assert.Contains("tenant:t maps 'x' to nope-9", quote.Reason);
    }

    [Fact]
    public void InvalidPolicy_ReportsEveryBadField()
    {
        const string json = """
            {"tenants": {"acme": {
              "discount_percent": 120,
              "regional_uplift": 0,
              "volume_tiers": [{"basis": "monthly_tokens", "threshold": 10.5, "discount_percent": -1}],
              "models": [
                {"model": "a", "map_to_model": "gpt-4o", "prices": {"input_mtok": 1}},
                {"model": "b", "prices": {"input_mtoken": 1}},
                {"model": "c", "map_to_model": "gpt-99-imaginary"},
                {"model": "d", "prices": {"cache_read_mtok": 1}}
              ]}}}
            """;

        PolicyLoadResult result = PricingPolicy.Load(json, PriceCatalog.BuiltIn);

        Assert.False(result.IsValid);
        Assert.Contains("tenants.acme.discount_percent: must be between 0 and 100", result.Errors);
        Assert.Contains(result.Errors, e => e.StartsWith("tenants.acme.regional_uplift:", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("tenants.acme.volume_tiers[0].threshold:", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("tenants.acme.volume_tiers[0].discount_percent:", StringComparison.Ordinal));
        Assert.Contains("tenants.acme.models[0]: give exactly one of map_to_model or prices", result.Errors);
        Assert.Contains(result.Errors, e => e.StartsWith("tenants.acme.models[1].prices.input_mtoken: unknown price key", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("tenants.acme.models[2].map_to_model:", StringComparison.Ordinal) && e.Contains("gpt-99-imaginary"));
        Assert.Contains(result.Errors, e => e.StartsWith("tenants.acme.models[3].prices: missing ancestor price key input_mtok", StringComparison.Ordinal));
        Assert.Equal(8, result.Errors.Count);
    }

    [Theory]
    [InlineData("""{"tenants": {"a": {"discount": 5}}}""", "discount")]
    [InlineData("""{"tenants": {"a": {"discount_percent": "ten"}}}""", "$.tenants.a.discount_percent")]
    [InlineData("""{"tenants": {"a": {"models": [{"model": "m", "prices": {"input_mtok": {"tiers": []}}}]}}}""", "a price must be a number")]
    public void MalformedPolicyJson_IsAnErrorNamingTheField(string json, string expected)
    {
        PolicyLoadResult result = PricingPolicy.Load(json);

        Assert.False(result.IsValid);
        Assert.Contains(expected, Assert.Single(result.Errors));
    }

    [Fact]
    public void Policy_RoundTripsThroughJson()
    {
        PricingPolicy policy = PricingPolicy.Load(PolicyJson).Policy!;

        PolicyLoadResult again = PricingPolicy.Load(policy.ToJson(), PriceCatalog.BuiltIn);

        Assert.True(again.IsValid, string.Join("; ", again.Errors));
        var engine = new PricingEngine(PriceCatalog.BuiltIn, again.Policy);
        Assert.Equal(1.4m, engine.Price(new PriceRequest(null, "acme-special", s_at, s_usage, "acme")).CostUsd);
    }

    [Fact]
    public void PriceAs_AppliesTheTenantsTerms_ToACatalogCandidate()
    {
        CatalogModelPrice mini = Assert.Single(PriceCatalog.BuiltIn.ModelsOf("openai", s_at), m => m.ModelId == "gpt-4o-mini");

        Assert.Equal(0.21m, _engine.PriceAs(mini, s_usage).CostUsd);
        Assert.Equal(0.2079m, _engine.PriceAs(mini, s_usage, "acme").CostUsd); // 0.21 * 1.1 * 0.9
        Assert.Equal(0.1848m, _engine.PriceAs(mini, s_usage, "acme", new MonthToDateUsage(0m, 1_000_000_000)).CostUsd); // * 1.1 * 0.8
    }

    [Fact]
    public void LoadFile_ReadsAPolicy_AndAMissingFileIsAnError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"policy-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, PolicyJson);
        try
        {
            Assert.True(PricingPolicy.LoadFile(path, PriceCatalog.BuiltIn).IsValid);
        }
        finally
        {
            File.Delete(path);
        }

        PolicyLoadResult missing = PricingPolicy.LoadFile(path);
        Assert.Equal([$"{path}: file not found"], missing.Errors);
    }
}
