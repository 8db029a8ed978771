using System.Text.Json.Serialization;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Advice;

/// <summary>Recommendation kinds (wire names).</summary>
public static class RecommendationKinds
{
    public const string CheaperModel = "cheaper_model";
    public const string PromptCaching = "prompt_caching";
    public const string LongContextTier = "long_context_tier";
    public const string BatchOrOffPeak = "batch_or_off_peak";
    public const string ReasoningShare = "reasoning_share";

    public static IReadOnlyList<string> All { get; } = [CheaperModel, PromptCaching, LongContextTier, BatchOrOffPeak, ReasoningShare];
}

/// <summary>Scopes recommendations are computed for (wire names).</summary>
public static class RecommendationScopes
{
    public const string Tenant = "tenant";
    public const string Team = "team";
    public const string User = "user";
    public const string App = "app";

    public static IReadOnlyList<string> All { get; } = [Tenant, Team, User, App];
}

/// <summary>
/// GET /api/recommendations: a tenant's recorded usage in [<see cref="From"/>, <see cref="To"/>), per scope.
/// <see cref="ScopeId"/> null = one set of recommendations per scope value (each team, user or app).
/// </summary>
public sealed record RecommendationRequest
{
    public required string TenantId { get; init; }

    public required DateTimeOffset From { get; init; }

    public required DateTimeOffset To { get; init; }

    public string Scope { get; init; } = RecommendationScopes.Tenant;

    public string? ScopeId { get; init; }

    /// <summary>Only these kinds (default all).</summary>
    public IReadOnlyList<string>? Kinds { get; init; }
}

public sealed record RecommendationReport
{
    public required string TenantId { get; init; }

    public required DateTimeOffset From { get; init; }

    public required DateTimeOffset To { get; init; }

    public required string PriceSource { get; init; }

    public required string CapabilitySource { get; init; }

    /// <summary>Events read (all scopes).</summary>
    public long Requests { get; init; }

    /// <summary>Events without a price: they cannot be re-priced and are left out of every recommendation.</summary>
    public long UnpricedRequests { get; init; }

    /// <summary>Largest saving first.</summary>
    public required IReadOnlyList<Recommendation> Recommendations { get; init; }
}

/// <summary>
/// One recommendation. <see cref="ProjectedCostUsd"/> is the same recorded usage re-priced (exact for
/// cheaper_model and for catalog-priced off-peak/batch prices; an estimate, flagged in the evidence, for the rest).
/// </summary>
/// <param name="Provider">The provider as recorded.</param>
/// <param name="Model">The model as recorded (as the caller named it).</param>
/// <param name="SuggestedModel">A name to call (for cheaper_model and catalog batch variants); the same model otherwise.</param>
public sealed record Recommendation(
    string Kind,
    string Scope,
    string ScopeId,
    string Provider,
    string Model,
    string? SuggestedProvider,
    string? SuggestedModel,
    [property: JsonConverter(typeof(MoneyJsonConverter))] decimal CurrentCostUsd,
    [property: JsonConverter(typeof(MoneyJsonConverter))] decimal ProjectedCostUsd,
    [property: JsonConverter(typeof(MoneyJsonConverter))] decimal SavingsUsd,
    RecommendationEvidence Evidence);

/// <summary>What a recommendation rests on: the traffic it is about, the rule that fired, and every assumption.</summary>
public sealed record RecommendationEvidence
{
    /// <summary>One sentence for people.</summary>
    public required string Summary { get; init; }

    /// <summary>True when the projection rests on assumptions (listed) rather than on catalog prices alone.</summary>
    public bool Estimate { get; init; }

    public IReadOnlyList<string> Assumptions { get; init; } = [];

    /// <summary>Priced requests of the model in the scope (the traffic re-priced).</summary>
    public long Requests { get; init; }

    /// <summary>Requests the recommendation is about (e.g. those just above a tier), when a subset.</summary>
    public long? AffectedRequests { get; init; }

    public long InputTokens { get; init; }

    public long OutputTokens { get; init; }

    public long CacheReadTokens { get; init; }

    public long ReasoningTokens { get; init; }

    public long MaxInputTokens { get; init; }

    public long MaxOutputTokens { get; init; }

    /// <summary>The recorded model's catalog id and, for cheaper_model, its lifecycle status.</summary>
    public string? CatalogModel { get; init; }

    public string? CurrentModelStatus { get; init; }

    /// <summary>cheaper_model: whether the tenant's quality scores were compared (false: capability match only).</summary>
    public bool? QualityCompared { get; init; }

    public string? CapabilityMatch { get; init; }

    /// <summary>cheaper_model: the next best candidates.</summary>
    public IReadOnlyList<RecommendationAlternative>? Alternatives { get; init; }

    /// <summary>long_context_tier: the input size above which the higher price applies.</summary>
    public long? ThresholdTokens { get; init; }

    /// <summary>batch_or_off_peak: the cheaper time window (UTC) or the variant, and how traffic was found non-interactive.</summary>
    public string? Window { get; init; }

    public string? NonInteractiveBy { get; init; }

    [JsonConverter(typeof(NullableMoneyJsonConverter))]
    public decimal? ReasoningCostUsd { get; init; }

    /// <summary>reasoning_share: reasoning cost / output cost, 0..1.</summary>
    public decimal? ReasoningShare { get; init; }

    public string? PriceSource { get; init; }

    public string? Source { get; init; }
}

public sealed record RecommendationAlternative(
    string Provider,
    string Model,
    [property: JsonConverter(typeof(MoneyJsonConverter))] decimal ProjectedCostUsd,
    [property: JsonConverter(typeof(MoneyJsonConverter))] decimal SavingsUsd,
    int? Quality);

/// <summary>
/// Reads the recorded usage events recommendations and business metrics are computed from. The rollups'
/// <see cref="Rollups.UsageFact"/> lacks what re-pricing needs (every token class, app, tags), hence a port of its own.
/// </summary>
public interface IAdviceUsageSource
{
    /// <summary>Every event of the tenant with a timestamp in [from, to).</summary>
    IAsyncEnumerable<UsageEvent> ReadAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default);
}

/// <summary>The advice view of the recorded events, day by day through <see cref="IUsageEventReader.ReadTenantDayAsync"/>.</summary>
public sealed class UsageEventAdviceSource(IUsageEventReader events) : IAdviceUsageSource
{
    public async IAsyncEnumerable<UsageEvent> ReadAsync(
        string tenantId, DateTimeOffset from, DateTimeOffset to,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        if (to <= from)
        {
            yield break;
        }

        DateOnly first = DateOnly.FromDateTime(from.UtcDateTime);
        DateOnly last = DateOnly.FromDateTime(to.UtcDateTime.AddTicks(-1));
        for (DateOnly day = first; day <= last; day = day.AddDays(1))
        {
            await foreach (UsageEvent e in events.ReadTenantDayAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
            {
                // The tenant-day index is a superset: keep exactly the day's events within the period.
                if (e.UtcDay == day && e.Timestamp >= from && e.Timestamp < to)
                {
                    yield return e;
                }
            }
        }
    }
}
