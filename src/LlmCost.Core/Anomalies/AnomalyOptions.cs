namespace LlmCost.Core.Anomalies;

/// <summary>Tuning of anomaly detection ("LlmCost:Anomalies" in configuration). Defaults are the measured ones (BENCHMARKS.md).</summary>
public sealed record AnomalyOptions
{
    /// <summary>Alert when the robust z-score is at least this (robust sigmas above the baseline median).</summary>
    public double Threshold { get; init; } = 3.0;

    /// <summary>Trailing baseline length in days (7–28).</summary>
    public int BaselineDays { get; init; } = 28;

    /// <summary>Minimum-history gate: fewer baseline points than this and nothing is evaluated (new users).</summary>
    public int MinHistory { get; init; } = 7;

    /// <summary>Minimum-spend floor: a cost below this (USD, per window) never alerts (tiny users).</summary>
    public decimal MinCostUsd { get; init; } = 1.00m;

    /// <summary>Token-spike floor: fewer tokens than this in the window never alert.</summary>
    public long MinTokens { get; init; } = 100_000;

    /// <summary>
    /// Floor of the spread as a fraction of the baseline median: a perfectly flat history (MAD 0) still needs a
    /// rise of Threshold × this fraction to alert.
    /// </summary>
    public double MinRelativeSpread { get; init; } = 0.10;

    /// <summary>Error-rate spikes need this many requests in the window to be judged.</summary>
    public long MinRequestsForErrorRate { get; init; } = 20;

    /// <summary>…and an error rate of at least this, whatever the baseline (a 0 → 1 % blip is not a spike).</summary>
    public double MinErrorRate { get; init; } = 0.05;

    /// <summary>Use the same day type (weekday / weekend) for the baseline when at least MinHistory such days exist.</summary>
    public bool SeasonalDayType { get; init; } = true;

    /// <summary>
    /// Provider-reported cost vs ours, per (tenant, model, day): alert when |reported − ours| exceeds BOTH this many
    /// USD and <see cref="ReportedCostToleranceRelative"/> of our cost (rounding and tiny calls never alert).
    /// </summary>
    public decimal ReportedCostToleranceUsd { get; init; } = 0.01m;

    /// <summary>Relative part of the reported-cost tolerance (0.02 = 2 % of our cost).</summary>
    public decimal ReportedCostToleranceRelative { get; init; } = 0.02m;

    public void Validate()
    {
        if (ReportedCostToleranceUsd < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReportedCostToleranceUsd), "must be >= 0");
        }

        if (ReportedCostToleranceRelative < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReportedCostToleranceRelative), "must be >= 0");
        }

        if (Threshold <= 0 || double.IsNaN(Threshold))
        {
            throw new ArgumentOutOfRangeException(nameof(Threshold), "must be > 0");
        }

        if (BaselineDays is < 7 or > 28)
        {
            throw new ArgumentOutOfRangeException(nameof(BaselineDays), "must be 7..28");
        }

        if (MinHistory < 3 || MinHistory > BaselineDays)
        {
            throw new ArgumentOutOfRangeException(nameof(MinHistory), "must be 3..BaselineDays");
        }
    }
}
