namespace LlmCost.Core.Forecasting;

/// <summary>Spend of one scope on one UTC day (USD, or tokens for a token budget: the forecaster is unit-blind).</summary>
public readonly record struct DailySpend(DateOnly Day, decimal CostUsd);

public sealed record ForecastRequest
{
    /// <summary>First day of the budget period (UTC).</summary>
    public required DateOnly PeriodStart { get; init; }

    /// <summary>First day AFTER the period (exclusive).</summary>
    public required DateOnly PeriodEnd { get; init; }

    /// <summary>
    /// Daily spend up to and including today (today may be partial). Days before the period feed the trend and the
    /// day-of-week pattern; days missing between the first given day and today count as 0.
    /// </summary>
    public required IReadOnlyList<DailySpend> History { get; init; }

    /// <summary>Two-sided coverage of the interval, e.g. 0.90 for a 5 %–95 % band.</summary>
    public double ConfidenceLevel { get; init; } = 0.90;

    /// <summary>
    /// The period's spend so far when a better source than <see cref="History"/> knows it: a budget's own ledger
    /// total (spend settled to an API key, a seed, a period starting inside a UTC day). Null: the history's days in
    /// the period. With no history at all, the rest of the period is projected at this total's rate since the start.
    /// </summary>
    public decimal? SpentInPeriod { get; init; }

    /// <summary>The exact start of the period when it is not a UTC midnight (a budget in a time zone).</summary>
    public DateTimeOffset? StartsAt { get; init; }

    /// <summary>The exact end of the period when it is not a UTC midnight: its last UTC day counts only up to it.</summary>
    public DateTimeOffset? EndsAt { get; init; }
}

/// <summary>End-of-period spend with a prediction interval. Money is decimal, rounded to 1e-6 USD.</summary>
public sealed record SpendForecast
{
    public required decimal SpentToDate { get; init; }
    public required decimal ProjectedTotal { get; init; }
    public required decimal Lower { get; init; }
    public required decimal Upper { get; init; }
    public required double ConfidenceLevel { get; init; }

    /// <summary>Complete days the model was fitted on.</summary>
    public required int TrainingDays { get; init; }

    /// <summary>Days (fractional: the rest of today counts) still to come in the period.</summary>
    public required double RemainingDays { get; init; }

    /// <summary>"trend_dow" (trend plus day-of-week), "trend", "run_rate" (too little history) or "closed".</summary>
    public required string Method { get; init; }

    /// <summary>The point forecast of each remaining UTC day of the period (today: its rest only).</summary>
    public IReadOnlyList<DailySpend> Path { get; init; } = [];

    /// <summary>The point forecast is above the limit: the "projected to exceed" alert.</summary>
    public bool ProjectedToExceed(decimal limitUsd) => ProjectedTotal > limitUsd;

    /// <summary>Even the lower bound is above the limit.</summary>
    public bool LikelyToExceed(decimal limitUsd) => Lower > limitUsd;

    /// <summary>
    /// The UTC day on which the point forecast reaches <paramref name="limit"/>: null when it does not within the
    /// period, or when the spend to date has already reached it.
    /// </summary>
    public DateOnly? ReachesOn(decimal limit)
    {
        if (SpentToDate >= limit)
        {
            return null;
        }

        var total = SpentToDate;
        foreach (var day in Path)
        {
            total += day.CostUsd;
            if (total >= limit)
            {
                return day.Day;
            }
        }

        return null;
    }
}

/// <summary>
/// Forecasts end-of-period spend: linear trend on day-of-week-adjusted daily spend over the last (up to) 28 complete
/// days, re-seasonalised for each remaining day, plus the rest of today pro rata. The interval comes from the
/// residual spread (independent days) plus the uncertainty of the fitted level. Deliberately simple and
/// explainable; an empty or tiny history degrades to the period's run rate, never to a crash or a silent 0.
/// The one forecaster: budget status, the projection alerts and the exhaustion date all come from it.
/// </summary>
public sealed class SpendForecaster(TimeProvider timeProvider)
{
    private const int MaxTrainingDays = 28;
    private const int MinDaysForTrend = 7;
    private const int MinDaysForSeasonality = 14;

    public SpendForecast Forecast(ForecastRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.PeriodEnd <= request.PeriodStart)
        {
            throw new ArgumentException("PeriodEnd must be after PeriodStart", nameof(request));
        }

        if (request.ConfidenceLevel is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(request), "ConfidenceLevel must be in (0, 1)");
        }

        var nowInstant = timeProvider.GetUtcNow();
        var now = nowInstant.UtcDateTime;
        var today = DateOnly.FromDateTime(now);
        var elapsedToday = now.TimeOfDay.TotalDays;
        var byDay = request.History.GroupBy(h => h.Day).ToDictionary(g => g.Key, g => g.Sum(h => h.CostUsd));
        var inPeriodBeforeToday = byDay.Where(kv => kv.Key >= request.PeriodStart && kv.Key < request.PeriodEnd && kv.Key < today).Sum(kv => kv.Value);
        var spent = request.SpentInPeriod ?? (inPeriodBeforeToday + (today < request.PeriodEnd ? byDay.GetValueOrDefault(today) : 0m));

        if (today >= request.PeriodEnd || nowInstant >= request.EndsAt)
        {
            return Fixed(spent, request, "closed");
        }

        var firstRemaining = today < request.PeriodStart ? request.PeriodStart : today;
        var remainingDays = new List<(DateOnly Day, double Weight)>();
        for (var d = firstRemaining; d < request.PeriodEnd; d = d.AddDays(1))
        {
            remainingDays.Add((d, Weight(d, nowInstant, request)));
        }

        var remaining = remainingDays.Sum(r => r.Weight);
        var firstKnown = byDay.Count == 0 ? today : byDay.Keys.Min();
        var trainingFrom = new[] { firstKnown, today.AddDays(-MaxTrainingDays) }.Max();
        var training = new List<(int T, DateOnly Day, double Value)>();
        for (var d = trainingFrom; d < today; d = d.AddDays(1))
        {
            training.Add((d.DayNumber - today.DayNumber, d, (double)byDay.GetValueOrDefault(d)));
        }

        var z = InverseNormal(0.5 + (request.ConfidenceLevel / 2));
        if (training.Count < MinDaysForTrend)
        {
            // Observed so far: complete days plus today's fraction; with no daily history but a known period total
            // (an API key's budget: usage is not kept per key), that total over the time since the period began.
            var periodStart = request.StartsAt ?? new DateTimeOffset(request.PeriodStart.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            var (observed, observedDays) = byDay.Count == 0 && request.SpentInPeriod is > 0m
                ? ((double)spent, (nowInstant - periodStart).TotalDays)
                : (training.Sum(t => t.Value) + (double)(request.SpentInPeriod is null ? byDay.GetValueOrDefault(today) : Math.Max(0m, spent - inPeriodBeforeToday)),
                   training.Count + elapsedToday);
            return RunRate(spent, observed, observedDays, remainingDays, request, z, training.Count);
        }

        var seasonal = training.Count >= MinDaysForSeasonality;
        var factors = seasonal ? DayOfWeekFactors(training) : Enumerable.Repeat(1.0, 7).ToArray();
        var adjusted = training.Select(t => (X: (double)t.T, Y: t.Value / factors[(int)t.Day.DayOfWeek])).ToList();
        var (a, b) = LinearFit(adjusted);
        var residuals = training.Select(t => t.Value - (Math.Max(0, a + (b * t.T)) * factors[(int)t.Day.DayOfWeek])).ToList();
        var sigma = Math.Sqrt(residuals.Sum(r => r * r) / Math.Max(1, training.Count - 2));

        var path = remainingDays.Select(r =>
            (r.Day, Value: r.Weight * Math.Max(0, a + (b * (r.Day.DayNumber - today.DayNumber))) * factors[(int)r.Day.DayOfWeek])).ToList();
        var variance = (sigma * sigma * remaining) + Math.Pow(remaining * sigma / Math.Sqrt(training.Count), 2);
        var half = z * Math.Sqrt(variance);
        return Build(spent, path, half, training.Count, remaining, request, seasonal ? "trend_dow" : "trend");
    }

    /// <summary>The share of UTC day <paramref name="day"/> still to come inside the period.</summary>
    private static double Weight(DateOnly day, DateTimeOffset now, ForecastRequest request)
    {
        var from = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var to = from.AddDays(1);
        if (now > from)
        {
            from = now;
        }

        if (request.StartsAt is { } starts && starts > from)
        {
            from = starts;
        }

        if (request.EndsAt is { } ends && ends < to)
        {
            to = ends;
        }

        return to > from ? (to - from).TotalDays : 0.0;
    }

    private static SpendForecast RunRate(
        decimal spent, double observed, double observedDays, List<(DateOnly Day, double Weight)> remainingDays, ForecastRequest request, double z, int trainingDays)
    {
        // Few days known: the average daily rate observed so far.
        var remaining = remainingDays.Sum(r => r.Weight);
        if (observedDays < 1.0 / 24 || observed <= 0)
        {
            return Fixed(spent, request, "run_rate") with { RemainingDays = remaining };
        }

        var rate = observed / observedDays;
        var path = remainingDays.Select(r => (r.Day, Value: rate * r.Weight)).ToList();
        // Wide on purpose: with under a week of data a ±100 % band on the rest is honest.
        var projectedRest = rate * remaining;
        var half = Math.Min(projectedRest, z / 1.6449 * projectedRest);
        return Build(spent, path, half, trainingDays, remaining, request, "run_rate");
    }

    private static SpendForecast Build(decimal spent, List<(DateOnly Day, double Value)> path, double half, int trainingDays, double remaining, ForecastRequest request, string method)
    {
        var rest = ToMoney(path.Sum(p => p.Value));
        var halfWidth = ToMoney(half);
        return new SpendForecast
        {
            SpentToDate = spent,
            ProjectedTotal = spent + rest,
            Lower = spent + Math.Max(0m, rest - halfWidth),
            Upper = spent + rest + halfWidth,
            ConfidenceLevel = request.ConfidenceLevel,
            TrainingDays = trainingDays,
            RemainingDays = Math.Round(remaining, 4),
            Method = method,
            Path = [.. path.Select(p => new DailySpend(p.Day, ToMoney(p.Value)))],
        };
    }

    private static SpendForecast Fixed(decimal spent, ForecastRequest request, string method) => new()
    {
        SpentToDate = spent,
        ProjectedTotal = spent,
        Lower = spent,
        Upper = spent,
        ConfidenceLevel = request.ConfidenceLevel,
        TrainingDays = 0,
        RemainingDays = 0,
        Method = method,
    };

    private static decimal ToMoney(double value) =>
        double.IsFinite(value) && value > 0 ? Math.Round((decimal)Math.Min(value, 1e15), 6, MidpointRounding.AwayFromZero) : 0m;

    /// <summary>
    /// Each weekday's mean ratio to a first, unseasonal trend fit (so that growth is not mistaken for a weekday
    /// pattern), normalised to average 1 and clamped so one odd day cannot zero or explode a weekday.
    /// </summary>
    private static double[] DayOfWeekFactors(List<(int T, DateOnly Day, double Value)> training)
    {
        var (a, b) = LinearFit([.. training.Select(t => ((double)t.T, t.Value))]);
        var factors = Enumerable.Repeat(1.0, 7).ToArray();
        for (var dow = 0; dow < 7; dow++)
        {
            var ratios = training
                .Where(t => (int)t.Day.DayOfWeek == dow && a + (b * t.T) > 0)
                .Select(t => t.Value / (a + (b * t.T)))
                .ToList();
            factors[dow] = ratios.Count == 0 ? 1.0 : Math.Clamp(ratios.Average(), 0.2, 5.0);
        }

        var mean = factors.Average();
        return mean > 0 ? [.. factors.Select(f => f / mean)] : Enumerable.Repeat(1.0, 7).ToArray();
    }

    private static (double Intercept, double Slope) LinearFit(List<(double X, double Y)> points)
    {
        var mx = points.Average(p => p.X);
        var my = points.Average(p => p.Y);
        var sxx = points.Sum(p => (p.X - mx) * (p.X - mx));
        var sxy = points.Sum(p => (p.X - mx) * (p.Y - my));
        var slope = sxx == 0 ? 0 : sxy / sxx;
        return (my - (slope * mx), slope);
    }

    /// <summary>Standard normal quantile (Acklam's rational approximation, |error| &lt; 1.2e-9).</summary>
    internal static double InverseNormal(double p)
    {
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            return (((((((c[0] * q) + c[1]) * q) + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((((d[0] * q) + d[1]) * q) + d[2]) * q + d[3]) * q + 1);
        }

        if (p > 1 - low)
        {
            var q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -(((((((c[0] * q) + c[1]) * q) + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((((d[0] * q) + d[1]) * q) + d[2]) * q + d[3]) * q + 1);
        }

        var r = p - 0.5;
        var s = r * r;
        return (((((((a[0] * s) + a[1]) * s) + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (((((((b[0] * s) + b[1]) * s) + b[2]) * s + b[3]) * s + b[4]) * s + 1);
    }
}
