using LlmCost.Core.Pricing;

namespace LlmCost.Cli;

/// <summary>The production wiring of the CLI.</summary>
internal static class CliDefaults
{
    public static CliServices Services { get; } = new()
    {
        // Until the pricing engine is merged every call is reported unpriced (never a silent $0).
        CalculatorFactory = _ => new UnavailableCalculator(),
    };

    private sealed class UnavailableCalculator : IPriceCalculator
    {
        public PriceQuote Price(PriceRequest request) => PriceQuote.Unpriced("pricing engine not available in this build");
    }
}
