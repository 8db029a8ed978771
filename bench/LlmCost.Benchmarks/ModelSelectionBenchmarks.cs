using BenchmarkDotNet.Attributes;
using LlmCost.Core.Advice;
using LlmCost.Core.Capabilities;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Benchmarks;

/// <summary>
/// One model selection in-process (the index is built once, at construction, as in production), against the price of
/// one call as baseline. Goal: a selection under 1 ms.
/// </summary>
[MemoryDiagnoser]
public class ModelSelectionBenchmarks
{
    private static readonly DateTimeOffset s_at = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private readonly PricingEngine _engine = PricingEngine.Default;
    private readonly PriceRequest _call = new("openai", "gpt-4o", s_at, new CanonicalUsage { InputTokens = 10_000, OutputTokens = 1_000 });
    private ModelSelector _selector = null!;
    private ModelSelector _tenantSelector = null!;

    /// <summary>Every provider with capability facts (the default when the tenant configured none): ~700 models examined.</summary>
    private readonly ModelSelectionRequest _allProviders = new()
    {
        InputModalities = ["text", "image"],
        Tools = true,
        ExpectedInputTokens = 10_000,
        ExpectedOutputTokens = 1_000,
        MaxCostPerCallUsd = 0.05m,
    };

    /// <summary>A tenant limited to three providers with a quality floor and a 15% discount.</summary>
    private readonly ModelSelectionRequest _tenantProfile = new()
    {
        TenantId = "acme",
        TaskType = "support",
        Tools = true,
        ExpectedInputTokens = 4_000,
        ExpectedOutputTokens = 800,
    };

    /// <summary>The same with a prompt to count (~2,000 tokens: one tokenizer pass per family).</summary>
    private readonly ModelSelectionRequest _withPrompt = new()
    {
        Providers = ["openai", "anthropic", "google"],
        Tools = true,
        Prompt = string.Concat(Enumerable.Repeat("Summarise the quarterly report for the finance team, with figures. ", 150)),
        ExpectedOutputTokens = 800,
    };

    [GlobalSetup]
    public void Setup()
    {
        var time = new FixedTime(s_at);
        _selector = new ModelSelector(CapabilityCatalog.BuiltIn, _engine, null, time);
        PricingPolicy policy = PricingPolicy.Load("""{"tenants": {"acme": {"discount_percent": 15}}}""", PriceCatalog.BuiltIn).Policy!;
        AdviceSettings settings = AdviceSettings.Load(
            """{"tenants": {"acme": {"providers": ["openai", "anthropic", "google"], "quality": {"openai:gpt-6-luna": 70, "anthropic:claude-haiku-4-5": 75, "google:gemini-3.1-flash-lite": 72}, "task_types": {"support": {"min_quality": 70}}}}}""",
            PriceCatalog.BuiltIn).Settings!;
        _tenantSelector = new ModelSelector(CapabilityCatalog.BuiltIn, new PricingEngine(PriceCatalog.BuiltIn, policy), settings, time);
        _ = _engine.Price(_call);
        _ = SelectAllProviders();
        _ = SelectTenantProfile();
        _ = SelectWithPrompt();
    }

    [Benchmark(Baseline = true)]
    public PriceQuote PriceOneCall() => _engine.Price(_call);

    [Benchmark]
    public object SelectAllProviders() => _selector.Select(_allProviders);

    [Benchmark]
    public object SelectTenantProfile() => _tenantSelector.Select(_tenantProfile);

    [Benchmark]
    public object SelectWithPrompt() => _selector.Select(_withPrompt);

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
