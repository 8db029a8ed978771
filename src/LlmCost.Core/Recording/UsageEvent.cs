using LlmCost.Core.Usage;

namespace LlmCost.Core.Recording;

/// <summary>Event statuses: whether the provider call succeeded.</summary>
public static class UsageStatuses
{
    public const string Success = "success";
    public const string Error = "error";

    public static bool IsKnown(string? status) => status is Success or Error;
}

/// <summary>
/// One LLM call as recorded: who, what, when, what it used, and what it cost. Everything queries, rollups,
/// anomaly detection, budgets and reports need is on the event itself.
/// </summary>
public sealed record UsageEvent
{
    /// <summary>Client-supplied (the idempotency key) or generated when absent (<see cref="EventIdGenerated"/>).</summary>
    public required string EventId { get; init; }

    public bool EventIdGenerated { get; init; }
    public required string TenantId { get; init; }
    public required string UserId { get; init; }
    public string? TeamId { get; init; }
    public string? App { get; init; }

    /// <summary>The provider as sent, or as inferred by pricing when not sent; "unknown" when neither.</summary>
    public required string Provider { get; init; }

    /// <summary>The model as sent by the caller (e.g. an Azure deployment name).</summary>
    public required string Model { get; init; }

    /// <summary>When the call happened; its UTC day selects the partition.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    public required CanonicalUsage Usage { get; init; }
    public long? LatencyMs { get; init; }
    public string Status { get; init; } = UsageStatuses.Success;
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>The priced cost; 0 when <see cref="Priced"/> is false (never a silent zero: see <see cref="UnpricedReason"/>).</summary>
    public decimal CostUsd { get; init; }

    public bool Priced { get; init; }
    public string? UnpricedReason { get; init; }

    /// <summary>
    /// The cost the provider or a gateway reported for this call (the event's <c>reported_cost_usd</c>, or e.g.
    /// OpenRouter's <c>usage.cost</c> in <c>raw_usage</c>); null when none was reported. Kept next to
    /// <see cref="CostUsd"/>, never instead of it: a difference means a price is wrong on one side.
    /// </summary>
    public decimal? ReportedCostUsd { get; init; }

    /// <summary>Reported − priced cost; null when nothing was reported or the event is unpriced.</summary>
    public decimal? ReportedCostDifferenceUsd => Priced && ReportedCostUsd is { } reported ? reported - CostUsd : null;

    /// <summary>The catalog's provider/model ids the price came from.</summary>
    public string? PricedProvider { get; init; }

    public string? PricedModel { get; init; }
    public string? PriceSource { get; init; }

    /// <summary>The cost at catalog list prices, before the tenant's policy (equal to <see cref="CostUsd"/> without one).</summary>
    public decimal ListCostUsd { get; init; }

    /// <summary>The tenant policy version that priced the event; null = list prices.</summary>
    public int? PolicyVersion { get; init; }

    /// <summary>The catalog version that priced the event; null for events recorded before versions were kept.</summary>
    public string? CatalogVersion { get; init; }

    /// <summary>The budget reservation this call was authorised under; recording it settles the reservation.</summary>
    public string? ReservationId { get; init; }

    /// <summary>The caller's key id (as given to the budget authorisation): key budgets count the event.</summary>
    public string? KeyId { get; init; }

    /// <summary>When the service accepted it (processing time, not event time).</summary>
    public DateTimeOffset RecordedAt { get; init; }

    public DateOnly UtcDay => DateOnly.FromDateTime(Timestamp.UtcDateTime);

    public bool Succeeded => Status == UsageStatuses.Success;

    /// <summary>
    /// This event with the price of <paramref name="quote"/>: cost and list cost (0 when unpriced, with the reason),
    /// the catalog entry that matched, the price source and the versions that priced it. Recording and repricing both
    /// price an event this way.
    /// </summary>
    public UsageEvent PricedBy(Pricing.PriceQuote quote)
    {
        ArgumentNullException.ThrowIfNull(quote);
        return this with
        {
            CostUsd = quote.Priced ? quote.CostUsd : 0m,
            ListCostUsd = quote.Priced ? quote.ListCostUsd : 0m,
            Priced = quote.Priced,
            UnpricedReason = quote.Priced ? null : quote.Reason ?? "no price",
            PricedProvider = quote.ProviderId,
            PricedModel = quote.ModelId,
            PriceSource = quote.Source,
            PolicyVersion = quote.PolicyVersion,
            CatalogVersion = quote.CatalogVersion,
        };
    }
}

/// <summary>What happened to one submitted event.</summary>
/// <param name="Duplicate">True when an event with this id was already recorded in its partition; the cost
/// and priced flag are then the STORED event's, and nothing was counted again.</param>
public sealed record RecordOutcome(
    string EventId,
    bool EventIdGenerated,
    bool Duplicate,
    decimal CostUsd,
    bool Priced,
    string? UnpricedReason)
{
    /// <summary>How the newly recorded event was priced (null for a duplicate: the stored event's pricing stands).</summary>
    public UsageEvent? Recorded { get; init; }
}
