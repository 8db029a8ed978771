using LlmCost.Core.Pricing;

namespace LlmCost.Cli;

/// <summary>The CLI's streams: binary stdin/stdout (JSON is UTF-8) and a text stderr for diagnostics.</summary>
public sealed record CliStreams(Stream Input, Stream Output, TextWriter Error);

/// <summary>Where prices come from: a catalog file (null = built-in) and a pricing policy file (null = list prices).</summary>
public sealed record PricingSource(string? CatalogPath, string? PolicyPath = null);

/// <summary>What the commands need from outside, so tests can run the real CLI in-process.</summary>
public sealed record CliServices
{
    /// <summary>Prices calls: the built-in catalog by default, or --catalog FILE; with --policy FILE, tenant overrides.</summary>
    public required Func<PricingSource, IPriceCalculator> CalculatorFactory { get; init; }

    /// <summary>Loads a catalog: null = the built-in one, else a genai-prices JSON file (for catalog list/show).</summary>
    public Func<string?, PriceCatalog> CatalogLoader { get; init; } = CliDefaults.LoadCatalog;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Where <c>llmcost replay</c> finds the Azure LLM inference trace CSVs.</summary>
    public string TraceDirectory { get; init; } = DefaultTraceDirectory;

    /// <summary>
    /// <c>LLMCOST_TRACE_DIR</c> when set, else the copy of the trace that ships next to the executable
    /// (from data/traces/azure-llm-inference-2023, CC-BY 4.0, attribution in its README.md).
    /// </summary>
    public static string DefaultTraceDirectory =>
        Environment.GetEnvironmentVariable("LLMCOST_TRACE_DIR") is { Length: > 0 } configured
            ? configured
            : Path.Combine(AppContext.BaseDirectory, "traces", "azure-llm-inference-2023");
}
