using System.Text.Json.Serialization;
using LlmCost.Core.Budgets;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Advice;

/// <summary>GET /api/metrics/business: a tenant (or one team) over [<see cref="From"/>, <see cref="To"/>).</summary>
public sealed record BusinessMetricsRequest
{
    public required string TenantId { get; init; }

    public required DateTimeOffset From { get; init; }

    public required DateTimeOffset To { get; init; }

    public string? TeamId { get; init; }
}

public sealed record BusinessMetricsReport
{
    public required string TenantId { get; init; }

    public string? TeamId { get; init; }

    public required DateTimeOffset From { get; init; }

    public required DateTimeOffset To { get; init; }

    public long Requests { get; init; }

    public long UnpricedRequests { get; init; }

    /// <summary>Unpriced requests / requests (0..1, 4 decimals); 0 without requests.</summary>
    public decimal UnpricedShare { get; init; }

    [JsonConverter(typeof(MoneyJsonConverter))]
    public decimal CostUsd { get; init; }

    public required RealisedSavings Savings { get; init; }

    public required IReadOnlyList<ModelCostMetrics> ByModel { get; init; }

    public required IReadOnlyList<ProviderShare> Providers { get; init; }

    public required BudgetAdherence BudgetAdherence { get; init; }

    public required string PriceSource { get; init; }
}

/// <summary>
/// Money the tenant did not spend, each part by re-pricing recorded usage: cache reads priced as the plain input
/// they replaced; negotiated terms as catalog list price minus the tenant's price; adaptive-budget downgrades as
/// the requested model's price minus the recorded one (only where budgets record their downgrades).
/// </summary>
public sealed record RealisedSavings
{
    [JsonConverter(typeof(MoneyJsonConverter))]
    public decimal CacheReadsUsd { get; init; }

    public long CacheReadRequests { get; init; }

    [JsonConverter(typeof(MoneyJsonConverter))]
    public decimal DiscountsUsd { get; init; }

    /// <summary>Null when no budget decision record exists (not zero: unknown).</summary>
    [JsonConverter(typeof(NullableMoneyJsonConverter))]
    public decimal? DowngradesUsd { get; init; }

    public long DowngradedRequests { get; init; }

    [JsonConverter(typeof(MoneyJsonConverter))]
    public decimal TotalUsd { get; init; }

    /// <summary>Events whose re-pricing failed (a model no longer in the catalog): left out of the savings.</summary>
    public long NotRepriced { get; init; }
}

/// <param name="AverageCostPerRequestUsd">Over priced requests; null when none was priced (unknown, not zero).</param>
/// <param name="CostPer1kOutputTokensUsd">Over the output tokens of priced requests; null when they produced none.</param>
public sealed record ModelCostMetrics(
    string Provider,
    string Model,
    long Requests,
    long UnpricedRequests,
    long InputTokens,
    long OutputTokens,
    [property: JsonConverter(typeof(MoneyJsonConverter))] decimal CostUsd,
    [property: JsonConverter(typeof(NullableMoneyJsonConverter))] decimal? AverageCostPerRequestUsd,
    [property: JsonConverter(typeof(NullableMoneyJsonConverter))] decimal? CostPer1kOutputTokensUsd);

/// <param name="CostShare">This provider's cost / all cost (0..1, 4 decimals).</param>
public sealed record ProviderShare(
    string Provider,
    long Requests,
    [property: JsonConverter(typeof(MoneyJsonConverter))] decimal CostUsd,
    decimal CostShare,
    decimal RequestShare);

/// <param name="Recorded">False when the budget module keeps no decision counts for the period: the rate is then null, never a guess.</param>
/// <param name="Rate">(admitted within budget + downgraded) / all decisions, 0..1, 4 decimals.</param>
public sealed record BudgetAdherence(bool Recorded, long Admitted, long Downgraded, long SoftOverruns, long Denied, decimal? Rate, string? Note);

/// <summary>What the budget module decided, as counts (admitted within budget, downgraded, allowed over a soft budget, denied).</summary>
public sealed record BudgetDecisionCounts(long Admitted, long Downgraded, long SoftOverruns, long Denied);

/// <summary>The model a downgraded call had asked for.</summary>
public readonly record struct RequestedModel(string Provider, string Model);

/// <summary>
/// Budget decisions over a period, for business metrics. Implemented by the budget module once it records its
/// decisions; until then none is registered and adherence answers "not recorded".
/// </summary>
public interface IBudgetDecisionSource
{
    /// <summary>Decision counts of the tenant (or one team); null when not recorded for that period.</summary>
    Task<BudgetDecisionCounts?> CountAsync(string tenantId, string? teamId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default);

    /// <summary>Reservation id → the model asked for, for reservations an adaptive budget downgraded in the period.</summary>
    Task<IReadOnlyDictionary<string, RequestedModel>> DowngradesAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default);
}

/// <summary>Business metrics from recorded usage, re-priced with the tenant's engine (catalog and the tenant's policy).</summary>
public sealed class BusinessMetricsService(IModelSelectorSource selectors, IAdviceUsageSource usage, IBudgetDecisionSource? budgets = null)
{
    public async Task<Validated<BusinessMetricsReport>> ComputeAsync(BusinessMetricsRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        Dictionary<string, string[]> errors = RecommendationService.ValidatePeriod(request.TenantId, request.From, request.To);
        if (errors.Count > 0)
        {
            return Validated<BusinessMetricsReport>.Fail(errors);
        }

        BudgetDecisionCounts? counts = null;
        IReadOnlyDictionary<string, RequestedModel>? downgrades = null;
        if (budgets is not null)
        {
            counts = await budgets.CountAsync(request.TenantId, request.TeamId, request.From, request.To, cancellationToken).ConfigureAwait(false);
            downgrades = await budgets.DowngradesAsync(request.TenantId, request.From, request.To, cancellationToken).ConfigureAwait(false);
        }

        var metrics = new BusinessMetricsCalculator(selectors.For(request.TenantId).Engine, request, downgrades);
        await foreach (UsageEvent e in usage.ReadAsync(request.TenantId, request.From, request.To, cancellationToken).ConfigureAwait(false))
        {
            metrics.Add(e);
        }

        return Validated<BusinessMetricsReport>.Ok(metrics.Finish(counts));
    }
}

/// <summary>The pure part of <see cref="BusinessMetricsService"/>: one pass over events.</summary>
public sealed class BusinessMetricsCalculator(PricingEngine engine, BusinessMetricsRequest request, IReadOnlyDictionary<string, RequestedModel>? downgrades)
{
    private const int ShareDecimals = 4;

    /// <summary>Averages are derived figures, not ledger money: rounded to 10 decimals (far below a cent).</summary>
    private const int AverageDecimals = 10;

    private readonly Dictionary<(string Provider, string Model), ModelTotals> _models = [];
    private long _requests, _unpriced, _cacheReadRequests, _downgraded, _notRepriced;
    private decimal _cost, _cacheSavings, _discounts, _downgradeSavings;

    public void Add(UsageEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.TenantId != request.TenantId || e.Timestamp < request.From || e.Timestamp >= request.To
            || (request.TeamId is not null && e.TeamId != request.TeamId))
        {
            return;
        }

        _requests++;
        if (!_models.TryGetValue((e.Provider, e.Model), out ModelTotals? totals))
        {
            totals = new ModelTotals();
            _models[(e.Provider, e.Model)] = totals;
        }

        totals.Requests++;
        totals.Input += e.Usage.InputTokens;
        totals.Output += e.Usage.OutputTokens;
        if (!e.Priced)
        {
            _unpriced++;
            totals.Unpriced++;
            return;
        }

        totals.Cost += e.CostUsd;
        totals.PricedOutput += e.Usage.OutputTokens;
        _cost += e.CostUsd;

        PriceQuote quote = Reprice(e.Provider, e.Model, e.Usage, e.Timestamp);
        if (!quote.Priced)
        {
            _notRepriced++;
            return;
        }

        _discounts += quote.ListCostUsd - quote.CostUsd;
        if (e.Usage.CacheReadTokens > 0)
        {
            // The same tokens as plain input (audio cache reads as plain audio input).
            PriceQuote uncached = Reprice(e.Provider, e.Model, e.Usage with { CacheReadTokens = 0, CacheAudioReadTokens = 0 }, e.Timestamp);
            if (uncached.Priced)
            {
                _cacheReadRequests++;
                _cacheSavings += uncached.CostUsd - quote.CostUsd;
            }
        }

        if (e.ReservationId is { } reservation && downgrades is not null && downgrades.TryGetValue(reservation, out RequestedModel requested))
        {
            PriceQuote asked = Reprice(requested.Provider, requested.Model, e.Usage, e.Timestamp);
            if (asked.Priced)
            {
                _downgraded++;
                _downgradeSavings += asked.CostUsd - e.CostUsd;
            }
        }
    }

    public BusinessMetricsReport Finish(BudgetDecisionCounts? counts)
    {
        decimal? downgradeSavings = downgrades is null ? null : _downgradeSavings;
        long decisions = counts is null ? 0 : counts.Admitted + counts.Downgraded + counts.SoftOverruns + counts.Denied;
        BudgetAdherence adherence = counts is null
            ? new BudgetAdherence(false, 0, 0, 0, 0, null, "budget decisions are not recorded for this period: no adherence rate")
            : new BudgetAdherence(true, counts.Admitted, counts.Downgraded, counts.SoftOverruns, counts.Denied,
                decisions == 0 ? null : Share(counts.Admitted + counts.Downgraded, decisions),
                decisions == 0 ? "no budget decisions in the period" : null);
        return new BusinessMetricsReport
        {
            TenantId = request.TenantId,
            TeamId = request.TeamId,
            From = request.From,
            To = request.To,
            Requests = _requests,
            UnpricedRequests = _unpriced,
            UnpricedShare = _requests == 0 ? 0m : Share(_unpriced, _requests),
            CostUsd = _cost,
            Savings = new RealisedSavings
            {
                CacheReadsUsd = _cacheSavings,
                CacheReadRequests = _cacheReadRequests,
                DiscountsUsd = _discounts,
                DowngradesUsd = downgradeSavings,
                DowngradedRequests = _downgraded,
                TotalUsd = _cacheSavings + _discounts + (downgradeSavings ?? 0m),
                NotRepriced = _notRepriced,
            },
            ByModel = [.. _models
                .OrderByDescending(m => m.Value.Cost)
                .ThenBy(m => m.Key.Provider, StringComparer.Ordinal)
                .ThenBy(m => m.Key.Model, StringComparer.Ordinal)
                .Select(m =>
                {
                    long priced = m.Value.Requests - m.Value.Unpriced;
                    return new ModelCostMetrics(
                        m.Key.Provider, m.Key.Model, m.Value.Requests, m.Value.Unpriced, m.Value.Input, m.Value.Output, m.Value.Cost,
                        priced == 0 ? null : decimal.Round(m.Value.Cost / priced, AverageDecimals),
                        m.Value.PricedOutput == 0 ? null : decimal.Round(m.Value.Cost * 1000m / m.Value.PricedOutput, AverageDecimals));
                })],
            Providers = [.. _models
                .GroupBy(m => m.Key.Provider, StringComparer.Ordinal)
                .Select(g => (Provider: g.Key, Requests: g.Sum(m => m.Value.Requests), Cost: g.Sum(m => m.Value.Cost)))
                .OrderByDescending(p => p.Cost)
                .ThenBy(p => p.Provider, StringComparer.Ordinal)
                .Select(p => new ProviderShare(p.Provider, p.Requests, p.Cost,
                    _cost == 0 ? 0m : Share(p.Cost, _cost), _requests == 0 ? 0m : Share(p.Requests, _requests)))],
            BudgetAdherence = adherence,
            PriceSource = engine.Catalog.Source,
        };
    }

    private PriceQuote Reprice(string provider, string model, CanonicalUsage usage, DateTimeOffset at) =>
        engine.Price(new PriceRequest(provider, model, at, usage, request.TenantId));

    private static decimal Share(decimal part, decimal whole) => decimal.Round(part / whole, ShareDecimals);

    private sealed class ModelTotals
    {
        public long Requests;
        public long Unpriced;
        public long Input;
        public long Output;
        public long PricedOutput;
        public decimal Cost;
    }
}
