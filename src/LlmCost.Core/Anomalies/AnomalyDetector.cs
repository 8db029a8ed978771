using System.Globalization;
using LlmCost.Core.Alerts;

namespace LlmCost.Core.Anomalies;

/// <summary>One metric of one scope over a window ("this hour" or "today"), with the same window in past days.</summary>
public sealed record MetricWindow
{
    public required string TenantId { get; init; }

    /// <summary>"tenant" or "user".</summary>
    public required string Scope { get; init; }

    public required string ScopeId { get; init; }

    /// <summary>A stable label of the window, part of the alert id ("h2026112313", "d20261123").</summary>
    public required string WindowLabel { get; init; }

    public required DateTimeOffset WindowStart { get; init; }

    public decimal CostUsd { get; init; }
    public long Tokens { get; init; }

    /// <summary>The same window on earlier days (already filtered for day type when seasonal), oldest first.</summary>
    public required IReadOnlyList<BaselinePoint> Baseline { get; init; }
}

public readonly record struct BaselinePoint(DateOnly Day, decimal CostUsd, long Tokens);

/// <summary>Error counts of one provider in one window, and the same window on earlier days.</summary>
public sealed record ErrorRateWindow
{
    public required string TenantId { get; init; }
    public required string Provider { get; init; }
    public required string WindowLabel { get; init; }
    public required DateTimeOffset WindowStart { get; init; }
    public long Requests { get; init; }
    public long Errors { get; init; }
    public required IReadOnlyList<(long Requests, long Errors)> Baseline { get; init; }
}

/// <summary>
/// Robust z-score anomaly detection. Spikes only (one-sided): spending less than usual is not an alert.
/// Gates, in order: minimum history, minimum spend/tokens floor, then z ≥ threshold.
/// </summary>
public sealed class AnomalyDetector(AnomalyOptions options, TimeProvider timeProvider)
{
    private readonly AnomalyOptions _options = Validated(options);

    public AnomalyOptions Options => _options;

    /// <summary>Cost anomaly and token spike for one window. Returns 0, 1 or 2 alerts.</summary>
    public IReadOnlyList<Alert> Evaluate(MetricWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        var alerts = new List<Alert>(2);
        if (window.Baseline.Count < _options.MinHistory)
        {
            return alerts;
        }

        var cost = ScoreCost(window);
        if (cost is { } c && c.Z >= _options.Threshold)
        {
            alerts.Add(Build(AlertKinds.CostAnomaly, window, c, observed: window.CostUsd.ToString(CultureInfo.InvariantCulture)));
        }

        var tokens = ScoreTokens(window);
        if (tokens is { } t && t.Z >= _options.Threshold)
        {
            alerts.Add(Build(AlertKinds.TokenSpike, window, t, observed: window.Tokens.ToString(CultureInfo.InvariantCulture)));
        }

        return alerts;
    }

    /// <summary>The cost score, or null when gated (too little history or below the spend floor).</summary>
    public RobustScore? ScoreCost(MetricWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (window.Baseline.Count < _options.MinHistory || window.CostUsd < _options.MinCostUsd)
        {
            return null;
        }

        var baseline = window.Baseline.Select(p => (double)p.CostUsd).ToList();
        return RobustStatistics.Score((double)window.CostUsd, baseline, SpreadFloor(baseline, (double)_options.MinCostUsd));
    }

    public RobustScore? ScoreTokens(MetricWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (window.Baseline.Count < _options.MinHistory || window.Tokens < _options.MinTokens)
        {
            return null;
        }

        var baseline = window.Baseline.Select(p => (double)p.Tokens).ToList();
        return RobustStatistics.Score(window.Tokens, baseline, SpreadFloor(baseline, _options.MinTokens));
    }

    /// <summary>Error-rate spike of one provider: rate z-score against past windows' rates, with absolute floors.</summary>
    public Alert? Evaluate(ErrorRateWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        var history = window.Baseline.Where(b => b.Requests > 0).ToList();
        if (history.Count < _options.MinHistory || window.Requests < _options.MinRequestsForErrorRate)
        {
            return null;
        }

        var rate = (double)window.Errors / window.Requests;
        if (rate < _options.MinErrorRate)
        {
            return null;
        }

        var rates = history.Select(b => (double)b.Errors / b.Requests).ToList();
        // A binomial rate from n requests wobbles by about sqrt(p(1-p)/n); never trust a spread below that.
        var median = RobustStatistics.Median(rates);
        var p = Math.Max(median, 0.01);
        var samplingSpread = Math.Sqrt(p * (1 - p) / window.Requests);
        var score = RobustStatistics.Score(rate, rates, samplingSpread);
        if (score.Z < _options.Threshold)
        {
            return null;
        }

        return new Alert
        {
            AlertId = AlertIds.For(AlertKinds.ErrorRateSpike, window.TenantId, "tenant", window.TenantId, window.Provider, window.WindowLabel),
            Kind = AlertKinds.ErrorRateSpike,
            TenantId = window.TenantId,
            Scope = "tenant",
            ScopeId = window.TenantId,
            CreatedAt = timeProvider.GetUtcNow(),
            Message = $"error rate of {window.Provider} is {rate:P1} ({window.Errors}/{window.Requests}), usually {median:P1}",
            Details = new Dictionary<string, string>
            {
                ["provider"] = window.Provider,
                ["window"] = window.WindowLabel,
                ["requests"] = window.Requests.ToString(CultureInfo.InvariantCulture),
                ["errors"] = window.Errors.ToString(CultureInfo.InvariantCulture),
                ["error_rate"] = rate.ToString("0.####", CultureInfo.InvariantCulture),
                ["baseline_median"] = median.ToString("0.####", CultureInfo.InvariantCulture),
                ["z_score"] = score.Z.ToString("0.##", CultureInfo.InvariantCulture),
            },
        };
    }

    /// <summary>Usage of a model that has no price: one alert per (tenant, model, day); its cost is NOT zero, it is unknown.</summary>
    public Alert UnpricedModel(string tenantId, string providerModel, DateOnly day, long requests)
    {
        var label = "d" + day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        return new Alert
        {
            AlertId = AlertIds.For(AlertKinds.UnpricedModel, tenantId, "tenant", tenantId, providerModel, label),
            Kind = AlertKinds.UnpricedModel,
            TenantId = tenantId,
            Scope = "tenant",
            ScopeId = tenantId,
            CreatedAt = timeProvider.GetUtcNow(),
            Message = $"{requests} request(s) to {providerModel} on {day:yyyy-MM-dd} have no price; their cost is not counted",
            Details = new Dictionary<string, string>
            {
                ["model"] = providerModel,
                ["window"] = label,
                ["unpriced_requests"] = requests.ToString(CultureInfo.InvariantCulture),
            },
        };
    }

    /// <summary>
    /// The provider's reported cost of a model's priced calls against ours, for one window: an alert when the
    /// difference exceeds both tolerances (<see cref="AnomalyOptions.ReportedCostToleranceUsd"/> and the relative
    /// one), null otherwise. One alert per (tenant, model, window), whichever side is higher.
    /// </summary>
    public Alert? ReportedCostMismatch(string tenantId, string providerModel, string windowLabel, long events, decimal differenceUsd, decimal ourCostUsd)
    {
        decimal magnitude = Math.Abs(differenceUsd);
        if (events == 0 || magnitude <= _options.ReportedCostToleranceUsd || magnitude <= _options.ReportedCostToleranceRelative * Math.Abs(ourCostUsd))
        {
            return null;
        }

        string reported = (ourCostUsd + differenceUsd).ToString(CultureInfo.InvariantCulture);
        return new Alert
        {
            AlertId = AlertIds.For(AlertKinds.ReportedCostMismatch, tenantId, "tenant", tenantId, providerModel, windowLabel),
            Kind = AlertKinds.ReportedCostMismatch,
            TenantId = tenantId,
            Scope = "tenant",
            ScopeId = tenantId,
            CreatedAt = timeProvider.GetUtcNow(),
            Message = $"{providerModel}: the provider reported {reported} USD for {events} priced call(s) in {windowLabel}, " +
                      $"we priced them at {ourCostUsd.ToString(CultureInfo.InvariantCulture)} USD (difference {differenceUsd.ToString(CultureInfo.InvariantCulture)})",
            Details = new Dictionary<string, string>
            {
                ["model"] = providerModel,
                ["window"] = windowLabel,
                ["events"] = events.ToString(CultureInfo.InvariantCulture),
                ["reported_cost_usd"] = reported,
                ["cost_usd"] = ourCostUsd.ToString(CultureInfo.InvariantCulture),
                ["difference_usd"] = differenceUsd.ToString(CultureInfo.InvariantCulture),
            },
        };
    }

    private double SpreadFloor(List<double> baseline, double absoluteFloor)
    {
        var median = RobustStatistics.Median(baseline);
        // A flat history around a tiny median still needs a meaningful absolute rise (a quarter of the floor).
        return Math.Max(_options.MinRelativeSpread * median, absoluteFloor / 4.0);
    }

    private Alert Build(string kind, MetricWindow window, RobustScore score, string observed) => new()
    {
        AlertId = AlertIds.For(kind, window.TenantId, window.Scope, window.ScopeId, window.WindowLabel),
        Kind = kind,
        TenantId = window.TenantId,
        Scope = window.Scope,
        ScopeId = window.ScopeId,
        CreatedAt = timeProvider.GetUtcNow(),
        Message = kind == AlertKinds.CostAnomaly
            ? $"{window.Scope} {window.ScopeId} spent {observed} USD in {window.WindowLabel}, usually {score.Median:0.####} (z={score.Z:0.#})"
            : $"{window.Scope} {window.ScopeId} used {observed} tokens in {window.WindowLabel}, usually {score.Median:0} (z={score.Z:0.#})",
        Details = new Dictionary<string, string>
        {
            ["window"] = window.WindowLabel,
            ["observed"] = observed,
            ["baseline_median"] = score.Median.ToString("0.######", CultureInfo.InvariantCulture),
            ["baseline_mad"] = score.Mad.ToString("0.######", CultureInfo.InvariantCulture),
            ["z_score"] = score.Z.ToString("0.##", CultureInfo.InvariantCulture),
            ["history_points"] = score.HistoryCount.ToString(CultureInfo.InvariantCulture),
        },
    };

    private static AnomalyOptions Validated(AnomalyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }
}
