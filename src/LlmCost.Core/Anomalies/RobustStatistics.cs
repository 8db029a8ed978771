namespace LlmCost.Core.Anomalies;

/// <summary>Median / MAD statistics: a single huge day in the baseline cannot hide the next one (unlike mean/sd).</summary>
public static class RobustStatistics
{
    /// <summary>Makes the MAD a consistent estimator of the standard deviation for normal data.</summary>
    public const double MadScale = 1.4826;

    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("median of nothing", nameof(values));
        }

        var sorted = values.ToArray();
        Array.Sort(sorted);
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0;
    }

    /// <summary>Median absolute deviation from the median (unscaled).</summary>
    public static double Mad(IReadOnlyList<double> values, double median) =>
        Median([.. values.Select(v => Math.Abs(v - median))]);

    /// <summary>
    /// (x − median) / (1.4826 · MAD). When more than half the baseline is identical the MAD is 0; the spread then
    /// falls back to a floor (<paramref name="minimumSpread"/>, e.g. a fraction of the median) so that a flat
    /// history does not turn every small wiggle into an infinite z-score.
    /// </summary>
    public static RobustScore Score(double value, IReadOnlyList<double> baseline, double minimumSpread)
    {
        var median = Median(baseline);
        var mad = Mad(baseline, median);
        var spread = Math.Max(MadScale * mad, minimumSpread);
        var z = spread > 0 ? (value - median) / spread : (value > median ? double.PositiveInfinity : 0);
        return new RobustScore(value, median, mad, spread, z, baseline.Count);
    }
}

/// <param name="Spread">1.4826·MAD, or the floor when that was larger.</param>
public readonly record struct RobustScore(double Value, double Median, double Mad, double Spread, double Z, int HistoryCount);
