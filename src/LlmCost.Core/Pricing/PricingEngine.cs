using System.Numerics;
using System.Text;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Pricing;

/// <summary>
/// Prices LLM calls from a <see cref="PriceCatalog"/> (genai-prices semantics, decimal arithmetic), with
/// optional per-tenant overrides from a <see cref="PricingPolicy"/>.
/// </summary>
/// <remarks>
/// Hot path (no override): one cached dictionary lookup for the model, a reverse scan of the model's price
/// tables for the timestamp, then a loop over the table's priced units on the stack. The only allocations
/// are the quote and its breakdown array.
/// </remarks>
public sealed class PricingEngine : IPriceCalculator
{
    private readonly PriceCatalog _catalog;
    private readonly PricingPolicy _policy;

    public PricingEngine(PriceCatalog catalog, PricingPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        _catalog = catalog;
        _policy = policy ?? PricingPolicy.Empty;
    }

    /// <summary>An engine over the built-in genai-prices catalog, without overrides.</summary>
    public static PricingEngine Default { get; } = new(PriceCatalog.BuiltIn);

    public PriceCatalog Catalog => _catalog;

    public PricingPolicy Policy => _policy;

    public PriceQuote Price(PriceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Usage);
        ArgumentNullException.ThrowIfNull(request.Model);

        if (!_policy.IsEmpty)
        {
            return PolicyPricer.Price(_catalog, _policy, request);
        }

        PriceCatalog.Resolution resolution = _catalog.Resolve(request.Provider, request.Model);
        if (resolution.Model is not { } resolved)
        {
            return PriceQuote.Unpriced(resolution.Failure!, request.Provider, null);
        }

        if (resolved.Model.Rejected is not null)
        {
            return Rejected(resolved);
        }

        PriceEntry entry = resolved.Model.PriceAt(request.Timestamp);
        return Compute(entry.Table, request.Usage, resolved.Provider.Id, resolved.Model.Id, _catalog.Source, entry.ConstraintText, Adjustment.None);
    }

    /// <summary>
    /// Prices <paramref name="usage"/> with a model already chosen from the catalog (e.g. a cheaper candidate from
    /// <see cref="PriceCatalog.ModelsOf"/> in a budget's adaptive mode), at the prices of
    /// <paramref name="model"/>'s entry, with the tenant's terms (uplift, volume tier or negotiated discount;
    /// name-based rules do not apply since no name was sent).
    /// </summary>
    public PriceQuote PriceAs(CatalogModelPrice model, CanonicalUsage usage, string? tenantId = null, MonthToDateUsage? monthToDate = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(usage);
        if (model.Model.Rejected is not null)
        {
            return Rejected(new ResolvedModel(model.Provider, model.Model, model.Provider));
        }

        Adjustment adjustment = tenantId is null || _policy.IsEmpty ? Adjustment.None : PolicyPricer.TenantAdjustment(_policy, tenantId, monthToDate);
        return Compute(model.Table, usage, model.ProviderId, model.ModelId, _catalog.Source, model.Entry.ConstraintText, adjustment);
    }

    internal static PriceQuote Rejected(ResolvedModel resolved) => PriceQuote.Unpriced(
        $"{resolved.ModelProvider.Id}/{resolved.Model.Id} was rejected when the catalog was loaded: {resolved.Model.Rejected}",
        resolved.Provider.Id,
        resolved.Model.Id);

    /// <summary>A multiplier applied to list prices (uplift × (1 − discount)), with its description for the quote's source.</summary>
    internal readonly record struct Adjustment(decimal Factor, string? Description)
    {
        public static Adjustment None => new(1m, null);
    }

    /// <summary>Prices <paramref name="usage"/> with one table: each unit at its most specific priced class.</summary>
    internal static PriceQuote Compute(
        PriceTable table,
        CanonicalUsage usage,
        string providerId,
        string modelId,
        string source,
        string? variant,
        Adjustment adjustment)
    {
        if (table.Inconsistency is not null)
        {
            return PriceQuote.Unpriced($"the price table of {providerId}/{modelId} is inconsistent: {table.Inconsistency}", providerId, modelId);
        }

        ulong positive = PositiveMask(usage, out int negative);
        if (negative >= 0)
        {
            // The contract says validated usage; a negative count would otherwise lower a cost silently.
            return PriceQuote.Unpriced($"invalid usage: {UsageUnits.Get(negative).UsageKey} is negative", providerId, modelId);
        }

        ulong uncovered = positive & ~table.CoveredMask & ~(1UL << UsageUnits.Requests);

        foreach ((ulong pair, string joinKey) in table.AmbiguousPairs)
        {
            if ((positive & pair) == pair)
            {
                return PriceQuote.Unpriced(
                    $"{providerId}/{modelId} prices {joinKey} separately, but the usage does not say how many tokens fall in that overlap", providerId, modelId);
            }
        }

        ReadOnlySpan<PriceTable.PricedUnit> units = table.ComputeOrder;
        Span<long> leaves = units.Length <= 64 ? stackalloc long[units.Length] : new long[units.Length];
        for (int i = 0; i < units.Length; i++)
        {
            long value = UsageValue(usage, units[i].Unit.Index);
            foreach (int descendant in units[i].Descendants)
            {
                value -= leaves[descendant];
            }

            if (value < 0)
            {
                return PriceQuote.Unpriced(
                    $"invalid usage: the more specific classes of {units[i].Unit.UsageKey} add up to more than {UsageValue(usage, units[i].Unit.Index)}", providerId, modelId);
            }

            leaves[i] = value;
        }

        long totalInput = usage.InputTokens;
        int count = 0;
        for (int i = 0; i < leaves.Length; i++)
        {
            if (leaves[i] > 0)
            {
                count++;
            }
        }

        var breakdown = count == 0 ? [] : new PriceComponent[count];
        decimal input = 0m;
        decimal output = 0m;
        decimal total = 0m;
        decimal listTotal = 0m;
        int next = 0;
        bool adjusted = adjustment.Factor != 1m;
        foreach (int position in table.DisplayOrder)
        {
            long quantity = leaves[position];
            if (quantity <= 0)
            {
                continue;
            }

            PriceTable.PricedUnit unit = units[position];
            decimal unitPrice = unit.Price.Base;
            decimal perUnit = unit.BasePerUnit;
            if (unit.TierPerUnit.Length > 0)
            {
                int tier = unit.TierFor(totalInput);
                if (tier >= 0)
                {
                    unitPrice = unit.Price.Tiers[tier].Price;
                    perUnit = unit.TierPerUnit[tier];
                }
            }

            // Per-unit prices are exact: every genai-prices denominator the canonical usage reaches is 10^3 or 10^6.
            decimal listCost = perUnit * quantity;
            decimal cost = listCost;
            if (adjusted)
            {
                unitPrice *= adjustment.Factor;
                cost = listCost * adjustment.Factor;
            }

            breakdown[next++] = new PriceComponent(unit.Unit.PriceKey, quantity, unitPrice, cost);
            listTotal += listCost;
            total += cost;
            if (unit.Unit.Direction == UnitDirection.Input)
            {
                input += cost;
            }
            else if (unit.Unit.Direction == UnitDirection.Output)
            {
                output += cost;
            }
        }

        string quoteSource = adjustment.Description is null ? source : $"{source}; {adjustment.Description}";
        if (uncovered != 0)
        {
            return new PriceQuote
            {
                Priced = false,
                CostUsd = 0m,
                KnownCostUsd = total,
                Reason = $"no price for {DescribeUnits(uncovered)} (nor for any broader class) in {providerId}/{modelId}",
                UnpricedClasses = UnitNames(uncovered),
                ProviderId = providerId,
                ModelId = modelId,
                Breakdown = breakdown,
                Source = quoteSource,
                PriceVariant = variant,
            };
        }

        return new PriceQuote
        {
            Priced = true,
            CostUsd = total,
            KnownCostUsd = total,
            ListCostUsd = listTotal,
            InputCostUsd = input,
            OutputCostUsd = output,
            ProviderId = providerId,
            ModelId = modelId,
            Breakdown = breakdown,
            Source = quoteSource,
            PriceVariant = variant,
        };
    }

    /// <summary>The value of a usage unit in canonical usage; units the canonical shape does not report count 0.</summary>
    internal static long UsageValue(CanonicalUsage usage, int unitIndex) => unitIndex switch
    {
        UsageUnits.InputTokens => usage.InputTokens,
        UsageUnits.CacheReadTokens => usage.CacheReadTokens,
        UsageUnits.CacheWriteTokens => usage.CacheWriteTokens,
        UsageUnits.CacheWrite1hTokens => usage.CacheWrite1hTokens,
        UsageUnits.InputAudioTokens => usage.InputAudioTokens,
        UsageUnits.CacheAudioReadTokens => usage.CacheAudioReadTokens,
        UsageUnits.OutputTokens => usage.OutputTokens,
        UsageUnits.OutputReasoningTokens => usage.ReasoningTokens,
        UsageUnits.OutputAudioTokens => usage.OutputAudioTokens,
        UsageUnits.WebSearches => usage.WebSearches,
        UsageUnits.Requests => usage.Requests,
        _ => 0,
    };

    private static ulong PositiveMask(CanonicalUsage usage, out int negative)
    {
        ulong mask = 0;
        negative = -1;
        for (int i = 0; i < UsageUnits.CanonicalCount; i++)
        {
            long value = UsageValue(usage, i);
            if (value > 0)
            {
                mask |= 1UL << i;
            }
            else if (value < 0 && negative < 0)
            {
                negative = i;
            }
        }

        return mask;
    }

    private static string[] UnitNames(ulong mask)
    {
        var names = new string[BitOperations.PopCount(mask)];
        int i = 0;
        while (mask != 0)
        {
            int index = BitOperations.TrailingZeroCount(mask);
            names[i++] = UsageUnits.Get(index).UsageKey;
            mask &= mask - 1;
        }

        return names;
    }

    private static string DescribeUnits(ulong mask)
    {
        var builder = new StringBuilder();
        foreach (string name in UnitNames(mask))
        {
            if (builder.Length > 0)
            {
                builder.Append(", ");
            }

            builder.Append(name);
        }

        return builder.ToString();
    }
}
