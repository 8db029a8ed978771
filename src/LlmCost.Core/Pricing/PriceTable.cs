namespace LlmCost.Core.Pricing;

/// <summary>One tier of a tiered price: applies to every unit of its key when the request's total input exceeds <see cref="Start"/>.</summary>
public readonly record struct PriceTier(long Start, decimal Price);

/// <summary>A price for one key: a flat <see cref="Base"/>, or tiers chosen by the request's TOTAL input tokens.</summary>
public sealed record PriceValue
{
    public PriceValue(decimal @base, IReadOnlyList<PriceTier>? tiers = null)
    {
        Base = @base;
        // genai-prices sorts tiers by start; the last one whose start is exceeded wins.
        Tiers = tiers is null || tiers.Count == 0 ? [] : [.. tiers.OrderBy(t => t.Start)];
    }

    public decimal Base { get; }

    public IReadOnlyList<PriceTier> Tiers { get; }

    public bool IsTiered => Tiers.Count > 0;

    /// <summary>The price in force for a request with <paramref name="totalInputTokens"/> input tokens (strictly above a tier's start).</summary>
    public decimal For(long totalInputTokens)
    {
        decimal price = Base;
        IReadOnlyList<PriceTier> tiers = Tiers;
        for (int i = 0; i < tiers.Count; i++)
        {
            if (totalInputTokens > tiers[i].Start)
            {
                price = tiers[i].Price;
            }
        }

        return price;
    }

    public static implicit operator PriceValue(decimal price) => new(price);

    public override string ToString() =>
        IsTiered ? $"{Base} ({string.Join(", ", Tiers.Select(t => $">{t.Start}: {t.Price}"))})" : Base.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// One price table (genai-prices ModelPrice) compiled for the hot path: the priced units sorted most specific
/// first, each with the positions of its priced descendants, so that a unit's own count is its usage value
/// minus what its more specific priced descendants already account for.
/// </summary>
public sealed class PriceTable
{
    private readonly PricedUnit[] _computeOrder;
    private readonly int[] _displayOrder;

    public PriceTable(IReadOnlyDictionary<string, PriceValue> prices)
        : this(prices.Select(p => new KeyValuePair<string, PriceValue>(p.Key, p.Value)).ToList())
    {
    }

    /// <param name="prices">Price key → price, in the source's order (kept for display).</param>
    public PriceTable(IReadOnlyList<KeyValuePair<string, PriceValue>> prices)
    {
        ArgumentNullException.ThrowIfNull(prices);
        var known = new List<(UsageUnit Unit, PriceValue Price)>();
        var unsupported = new List<string>();
        foreach (KeyValuePair<string, PriceValue> price in prices)
        {
            if (UsageUnits.TryGetByPriceKey(price.Key, out UsageUnit unit))
            {
                known.Add((unit, price.Value));
            }
            else
            {
                unsupported.Add(price.Key);
            }
        }

        Prices = known.Select(k => new KeyValuePair<string, PriceValue>(k.Unit.PriceKey, k.Price)).ToList();
        UnsupportedPriceKeys = unsupported;

        ulong pricedMask = 0;
        foreach ((UsageUnit unit, _) in known)
        {
            pricedMask |= unit.Bit;
        }

        PricedMask = pricedMask;
        ulong covered = 0;
        foreach ((UsageUnit unit, _) in known)
        {
            covered |= unit.Bit | unit.DescendantMask;
        }

        CoveredMask = covered;
        HasTiers = known.Any(k => k.Price.IsTiered);
        Inconsistency = FindInconsistency(known.Select(k => k.Unit).ToList(), pricedMask);

        // Most specific first (more dimensions), as genai-prices computes leaves.
        List<(UsageUnit Unit, PriceValue Price, int Display)> ordered = known
            .Select((k, i) => (k.Unit, k.Price, i))
            .OrderByDescending(k => k.Unit.Dimensions.Count)
            .ThenBy(k => k.Unit.UsageKey, StringComparer.Ordinal)
            .ToList();
        _computeOrder = new PricedUnit[ordered.Count];
        _displayOrder = new int[ordered.Count];
        for (int i = 0; i < ordered.Count; i++)
        {
            (UsageUnit unit, PriceValue price, int display) = ordered[i];
            var descendants = new List<int>();
            for (int j = 0; j < i; j++)
            {
                if ((unit.DescendantMask & ordered[j].Unit.Bit) != 0)
                {
                    descendants.Add(j);
                }
            }

            _computeOrder[i] = new PricedUnit(unit, price, [.. descendants], PerUnit(price.Base, unit.Per), [.. price.Tiers.Select(t => PerUnit(t.Price, unit.Per))]);
            _displayOrder[display] = i;
        }

        OverlapChecks = FindOverlapChecks(known.Select(k => k.Unit).ToList());
        PricesRequests = (pricedMask & (1UL << UsageUnits.Requests)) != 0;
    }

    /// <summary>The supported prices, in source order.</summary>
    public IReadOnlyList<KeyValuePair<string, PriceValue>> Prices { get; }

    /// <summary>Price keys genai-prices does not know (ignored for pricing, reported by the validator).</summary>
    public IReadOnlyList<string> UnsupportedPriceKeys { get; }

    /// <summary>
    /// Non-null when the table breaks genai-prices' closure rules (a priced unit whose ancestor or join with
    /// another priced unit is unpriced): such a table cannot price anything unambiguously.
    /// </summary>
    public string? Inconsistency { get; }

    internal ulong PricedMask { get; }

    /// <summary>Units that have a price themselves or through an ancestor.</summary>
    internal ulong CoveredMask { get; }

    internal bool HasTiers { get; }

    internal ReadOnlySpan<PricedUnit> ComputeOrder => _computeOrder;

    internal ReadOnlySpan<int> DisplayOrder => _displayOrder;

    /// <summary>
    /// For each priced unit that is the join (overlap) of two unrelated units: the pair's mask and the join's bit.
    /// When both are positive and the join itself was not reported (e.g. cache_audio_read_mtok priced, usage gives
    /// cache reads and input audio but not cached audio) the overlap's count is unknown, and genai-prices refuses
    /// to guess; so does the engine.
    /// </summary>
    internal (ulong Pair, ulong Join)[] OverlapChecks { get; }

    /// <summary>A per-request fee is priced: tool calls this table gives no price of their own are part of it.</summary>
    internal bool PricesRequests { get; }

    public bool TryGetPrice(string priceKey, out PriceValue price)
    {
        foreach (KeyValuePair<string, PriceValue> entry in Prices)
        {
            if (entry.Key == priceKey)
            {
                price = entry.Value;
                return true;
            }
        }

        price = null!;
        return false;
    }

    private static string? FindInconsistency(List<UsageUnit> priced, ulong pricedMask)
    {
        foreach (UsageUnit unit in priced)
        {
            ulong missing = unit.AncestorMask & ~pricedMask;
            if (missing != 0)
            {
                return $"missing ancestor price key {UsageUnits.Get(System.Numerics.BitOperations.TrailingZeroCount(missing)).PriceKey} for {unit.PriceKey}";
            }
        }

        for (int i = 0; i < priced.Count; i++)
        {
            for (int j = i + 1; j < priced.Count; j++)
            {
                if (!UsageUnits.AreCompatible(priced[i], priced[j]))
                {
                    continue;
                }

                UsageUnit? join = UsageUnits.FindJoin(priced[i], priced[j]);
                if (join is null)
                {
                    return $"no registered join unit for {priced[i].PriceKey} and {priced[j].PriceKey}";
                }

                if ((pricedMask & join.Bit) == 0)
                {
                    return $"missing join price key {join.PriceKey} for {priced[i].PriceKey} and {priced[j].PriceKey}";
                }
            }
        }

        return null;
    }

    private static (ulong Pair, ulong Join)[] FindOverlapChecks(List<UsageUnit> priced)
    {
        var checks = new List<(ulong, ulong)>();
        foreach (UsageUnit unit in priced)
        {
            foreach (ulong pair in UsageUnits.JoinPairs(unit))
            {
                checks.Add((pair, unit.Bit));
            }
        }

        return [.. checks];
    }

    /// <summary>
    /// The price of one unit when the denominator is a power of ten (exact in decimal); null otherwise (per hour:
    /// 3,600), where the cost is computed as price x quantity / per so that exact results stay exact.
    /// </summary>
    private static decimal? PerUnit(decimal price, decimal per)
    {
        decimal power = 1m;
        while (power < per)
        {
            power *= 10m;
        }

        return power == per ? price / per : null;
    }

    /// <param name="BasePerUnit">The base price divided by <see cref="UsageUnit.Per"/> once, so a cost is one multiplication.</param>
    /// <param name="TierPerUnit">Each tier's price per unit, in <see cref="PriceValue.Tiers"/> order.</param>
    internal readonly record struct PricedUnit(UsageUnit Unit, PriceValue Price, int[] Descendants, decimal? BasePerUnit, decimal?[] TierPerUnit)
    {
        /// <summary>The cost of <paramref name="quantity"/> units at <paramref name="tier"/> (-1 = base).</summary>
        public decimal Cost(long quantity, int tier)
        {
            decimal? perUnit = tier < 0 ? BasePerUnit : TierPerUnit[tier];
            if (perUnit is { } exact)
            {
                return exact * quantity;
            }

            decimal price = tier < 0 ? Price.Base : Price.Tiers[tier].Price;
            return price * quantity / Unit.Per;
        }

        /// <summary>The tier in force (strictly above its start), as an index into the tiers; -1 = base.</summary>
        public int TierFor(long totalInputTokens)
        {
            int chosen = -1;
            IReadOnlyList<PriceTier> tiers = Price.Tiers;
            for (int i = 0; i < TierPerUnit.Length; i++)
            {
                if (totalInputTokens > tiers[i].Start)
                {
                    chosen = i;
                }
            }

            return chosen;
        }
    }
}
