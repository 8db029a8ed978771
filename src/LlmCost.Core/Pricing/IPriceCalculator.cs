using LlmCost.Core.Usage;

namespace LlmCost.Core.Pricing;

/// <summary>Prices one LLM call. Pure: no I/O, no clock (the event's timestamp picks the price in force).</summary>
public interface IPriceCalculator
{
    PriceQuote Price(PriceRequest request);

    /// <summary>
    /// Loads what pricing this tenant at this time needs (its policy, its month-to-date usage) so that
    /// <see cref="Price"/> answers from fresh data; callers that record or quote await it first.
    /// </summary>
    ValueTask PrepareAsync(string? tenantId, DateTimeOffset at, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
}

/// <param name="Provider">Provider id (e.g. "openai", "anthropic", "azure"); null = infer from the model name.</param>
/// <param name="Model">The model name as the caller sent it (e.g. "gpt-4o-2024-08-06", an Azure deployment name).</param>
/// <param name="Timestamp">When the call happened: selects historic prices and off-peak windows.</param>
/// <param name="Usage">Canonical, validated usage.</param>
/// <param name="TenantId">Selects the tenant's overrides (discounts, custom prices); null = list prices.</param>
public sealed record PriceRequest(
    string? Provider,
    string Model,
    DateTimeOffset Timestamp,
    CanonicalUsage Usage,
    string? TenantId = null)
{
    /// <summary>
    /// The tenant's usage so far this calendar month (UTC), BEFORE this call: selects the tenant's volume tier
    /// (<see cref="TenantPricing.VolumeTiers"/>). Null = no volume tier can apply.
    /// </summary>
    public MonthToDateUsage? MonthToDate { get; init; }
}

/// <summary>A tenant's month-to-date usage, as the caller's ledger knows it.</summary>
/// <param name="SpendUsd">Spend so far this month, in USD (after the tenant's own prices).</param>
/// <param name="Tokens">Tokens (input + output) so far this month.</param>
public readonly record struct MonthToDateUsage(decimal SpendUsd, long Tokens);

/// <summary>
/// The price of one call. <see cref="Priced"/> false means the cost is unknown (never a silent $0):
/// <see cref="Reason"/> says why (unknown model, no price for a used token class, ...).
/// </summary>
public sealed record PriceQuote
{
    public required bool Priced { get; init; }
    public required decimal CostUsd { get; init; }
    public string? ProviderId { get; init; }
    public string? ModelId { get; init; }
    public string? Reason { get; init; }

    /// <summary>Per token class: count charged at that class, unit price (USD per million or per thousand), cost.</summary>
    public IReadOnlyList<PriceComponent> Breakdown { get; init; } = [];

    /// <summary>Where the price came from (e.g. "genai-prices@0.1.8", "tenant:acme override").</summary>
    public string? Source { get; init; }

    /// <summary>The cost at catalog list prices, before the tenant's overrides (equal to <see cref="CostUsd"/> without overrides).</summary>
    public decimal ListCostUsd { get; init; }

    /// <summary>The part of <see cref="CostUsd"/> for input units (genai-prices `input_price`).</summary>
    public decimal InputCostUsd { get; init; }

    /// <summary>The part of <see cref="CostUsd"/> for output units (genai-prices `output_price`).</summary>
    public decimal OutputCostUsd { get; init; }

    /// <summary>Which of the model's price tables applied: null = the default, else e.g. "start_date 2025-06-10" or "time_of_date 16:30:00Z-00:30:00Z".</summary>
    public string? PriceVariant { get; init; }

    /// <summary>Used classes that have no price anywhere in their ancestry (the reason the quote is unpriced).</summary>
    public IReadOnlyList<string> UnpricedClasses { get; init; } = [];

    /// <summary>
    /// When unpriced only because of <see cref="UnpricedClasses"/>: the cost of the classes that DO have a price
    /// (a lower bound of the true cost, and what genai-prices would report). Otherwise equal to <see cref="CostUsd"/>.
    /// </summary>
    public decimal KnownCostUsd { get; init; }

    /// <summary>The catalog version that priced the call (null from a bare engine).</summary>
    public string? CatalogVersion { get; init; }

    /// <summary>The tenant policy version that priced the call; null = list prices.</summary>
    public int? PolicyVersion { get; init; }

    public static PriceQuote Unpriced(string reason, string? providerId = null, string? modelId = null) =>
        new() { Priced = false, CostUsd = 0m, Reason = reason, ProviderId = providerId, ModelId = modelId };
}

/// <param name="Class">The usage/price class, genai-prices naming: "input_mtok", "cache_read_mtok", "requests_kcount", ...</param>
/// <param name="Quantity">How many units were charged at this class (tokens, requests, searches).</param>
/// <param name="UnitPriceUsd">USD per million tokens (…_mtok) or per thousand (…_kcount).</param>
/// <param name="CostUsd">The cost of this component.</param>
public readonly record struct PriceComponent(string Class, long Quantity, decimal UnitPriceUsd, decimal CostUsd);
