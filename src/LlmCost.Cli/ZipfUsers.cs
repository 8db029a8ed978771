namespace LlmCost.Cli;

/// <summary>
/// Deterministic Zipf-distributed user ids for trace replays. User k (1..N) is drawn with probability
/// proportional to 1 / k^s. Draws come from SplitMix64 (Steele, Lea, Flood 2014) seeded with the given seed, so
/// the same seed, N and s give the same users on every machine and .NET version (System.Random's algorithm is not
/// a documented contract). Sampling is inverse-CDF: a uniform double in [0,1) located by binary search in the
/// cumulative weights.
/// </summary>
internal sealed class ZipfUsers
{
    private readonly double[] _cumulative;
    private ulong _state;

    public ZipfUsers(int users, double exponent, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(users, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(exponent);
        _cumulative = new double[users];
        double sum = 0;
        for (int k = 1; k <= users; k++)
        {
            sum += 1.0 / Math.Pow(k, exponent);
            _cumulative[k - 1] = sum;
        }

        for (int i = 0; i < users; i++)
        {
            _cumulative[i] /= sum;
        }

        _cumulative[^1] = 1.0;
        _state = seed;
    }

    /// <summary>The next user, 1-based (user 1 is the heaviest).</summary>
    public int Next()
    {
        double u = (NextUInt64() >> 11) * (1.0 / (1UL << 53));
        int index = Array.BinarySearch(_cumulative, u);
        // BinarySearch: exact hit -> that index, but that cumulative value belongs to the NEXT bucket's start.
        index = index >= 0 ? index + 1 : ~index;
        return Math.Min(index, _cumulative.Length - 1) + 1;
    }

    internal ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
