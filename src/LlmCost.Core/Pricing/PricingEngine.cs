// Long on purpose: the one pricing path (model resolution, price table by timestamp, tiers, policy adjustments)
// is a single hot loop kept in one file so its allocations and precedence can be checked at a glance.
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
        try
        {
            return PriceChecked(request);
        }
        catch (OverflowException)
        {
            return BeyondAnyAmount(request.Provider, request.Model);
        }
    }

    private PriceQuote PriceChecked(PriceRequest request)
    {
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

        try
        {
            Adjustment adjustment = tenantId is null || _policy.IsEmpty ? Adjustment.None : PolicyPricer.TenantAdjustment(_policy, tenantId, monthToDate);
            return Compute(model.Table, usage, model.ProviderId, model.ModelId, _catalog.Source, model.Entry.ConstraintText, adjustment);
        }
        catch (OverflowException)
        {
            return BeyondAnyAmount(model.ProviderId, model.ModelId);
        }
    }

    /// <summary>
    /// A cost beyond a decimal: only a price table no validator would pass now (one published or stored before
    /// prices were bounded) can get here. Unpriced, saying why, rather than a crash or a wrapped number.
    /// </summary>
    private static PriceQuote BeyondAnyAmount(string? providerId, string modelId) =>
        PriceQuote.Unpriced($"the cost of this usage with the price table of {providerId}/{modelId} is beyond any amount: check that table's prices", providerId, modelId);

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

        if (usage.Passes.Count > 0)
        {
            return ComputePasses(table, usage.Passes, providerId, modelId, source, variant, adjustment);
        }

        if (usage.HasNegative())
        {
            // The contract says validated usage; a negative count would otherwise lower a cost silently.
            return PriceQuote.Unpriced($"invalid usage: {FirstNegative(usage)} is negative", providerId, modelId);
        }

        if (providerId == "groq" && modelId is "whisper-large-v3" or "whisper-large-v3-turbo")
        {
            usage = GroqMinimumAudio(usage);
        }

        ulong positive = usage.NonZeroMask;
        ulong uncovered = positive & ~table.CoveredMask & ~(1UL << UsageUnits.Requests);
        if (table.PricesRequests)
        {
            // A model with a per-request fee and no price of its own for a tool call includes the calls in that
            // fee (Perplexity's sonar models: the request fee depends on the search context; their searches are
            // not billed apart). genai-prices charges them 0 too.
            uncovered &= ~UsageUnits.ToolCallMask;
        }

        ulong given = usage.ReportedMask;
        for (ulong missing = table.PricedMask & ~given; missing != 0; missing &= missing - 1)
        {
            // A priced class that is absent while a part of it is given has no known count (absent is not 0 here):
            // pricing it as 0 would charge its parts at nothing. genai-prices refuses the same.
            UsageUnit whole = UsageUnits.Get(BitOperations.TrailingZeroCount(missing));
            if ((positive & whole.DescendantMask) is not 0 and var parts)
            {
                return PriceQuote.Unpriced(
                    $"invalid usage: {whole.UsageKey} is missing but its part {UsageUnits.Get(BitOperations.TrailingZeroCount(parts)).UsageKey} is given " +
                    $"(a class includes all of its parts)", providerId, modelId);
            }
        }

        if (table.OverlapChecks.Length > 0)
        {
            ulong reported = given;
            foreach ((ulong pair, ulong join) in table.OverlapChecks)
            {
                if ((positive & pair) == pair && (reported & join) == 0)
                {
                    string joinKey = UsageUnits.Get(BitOperations.TrailingZeroCount(join)).UsageKey;
                    return PriceQuote.Unpriced(
                        $"{providerId}/{modelId} prices {joinKey} separately, but the usage does not say how many tokens fall in that overlap " +
                        $"of {DescribeUnits(pair)} (give {joinKey})", providerId, modelId);
                }
            }
        }

        ReadOnlySpan<PriceTable.PricedUnit> units = table.ComputeOrder;
        Span<long> leaves = units.Length <= 64 ? stackalloc long[units.Length] : new long[units.Length];
        for (int i = 0; i < units.Length; i++)
        {
            long value = usage.Get(units[i].Unit.Index);
            foreach (int descendant in units[i].Descendants)
            {
                value -= leaves[descendant];
            }

            if (value < 0)
            {
                return PriceQuote.Unpriced(
                    $"invalid usage: the more specific classes of {units[i].Unit.UsageKey} add up to more than {usage.Get(units[i].Unit.Index)}", providerId, modelId);
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
            int tier = -1;
            if (unit.TierPerUnit.Length > 0)
            {
                tier = unit.TierFor(totalInput);
                if (tier >= 0)
                {
                    unitPrice = unit.Price.Tiers[tier].Price;
                }
            }

            decimal listCost = unit.Cost(quantity, tier);
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

    /// <summary>One call billed as several sampling passes: each priced alone (its own tier), the quotes added.</summary>
    private static PriceQuote ComputePasses(
        PriceTable table, IReadOnlyList<CanonicalUsage> passes, string providerId, string modelId, string source, string? variant, Adjustment adjustment)
    {
        var quotes = new List<PriceQuote>(passes.Count);
        foreach (CanonicalUsage pass in passes)
        {
            PriceQuote quote = Compute(table, pass, providerId, modelId, source, variant, adjustment);
            if (!quote.Priced && quote.UnpricedClasses.Count == 0)
            {
                return quote;
            }

            quotes.Add(quote);
        }

        var breakdown = new List<PriceComponent>();
        foreach (PriceComponent component in quotes.SelectMany(q => q.Breakdown))
        {
            int same = breakdown.FindIndex(c => c.Class == component.Class && c.UnitPriceUsd == component.UnitPriceUsd);
            if (same < 0)
            {
                breakdown.Add(component);
            }
            else
            {
                PriceComponent sum = breakdown[same];
                breakdown[same] = sum with { Quantity = sum.Quantity + component.Quantity, CostUsd = sum.CostUsd + component.CostUsd };
            }
        }

        PriceQuote first = quotes[0];
        string[] unpriced = [.. quotes.SelectMany(q => q.UnpricedClasses).Distinct(StringComparer.Ordinal)];
        bool priced = unpriced.Length == 0;
        return first with
        {
            Priced = priced,
            CostUsd = priced ? quotes.Sum(q => q.CostUsd) : 0m,
            KnownCostUsd = quotes.Sum(q => q.KnownCostUsd),
            ListCostUsd = priced ? quotes.Sum(q => q.ListCostUsd) : 0m,
            InputCostUsd = priced ? quotes.Sum(q => q.InputCostUsd) : 0m,
            OutputCostUsd = priced ? quotes.Sum(q => q.OutputCostUsd) : 0m,
            Breakdown = breakdown,
            UnpricedClasses = unpriced,
            Reason = priced ? null : quotes.First(q => !q.Priced).Reason,
        };
    }

    /// <summary>
    /// genai-prices bills Groq's Whisper models at least 10 seconds of audio per call: the audio duration (or the
    /// input audio duration when the total is absent or 0) is raised to 10 s and used for both duration units.
    /// </summary>
    private static CanonicalUsage GroqMinimumAudio(CanonicalUsage usage)
    {
        UsageUnit audio = UsageUnits.Get("audio_seconds");
        UsageUnit inputAudio = UsageUnits.Get("input_audio_seconds");
        long? total = usage.IsReported(audio) ? usage.Get(audio) : null;
        long? input = usage.IsReported(inputAudio) ? usage.Get(inputAudio) : null;
        long? seconds = total == 0 ? input : total ?? input;
        if (seconds is not { } duration)
        {
            return usage;
        }

        long billed = duration > 0 ? Math.Max(duration, 10) : 0;
        return usage.With(audio, billed).With(inputAudio, billed);
    }

    private static string FirstNegative(CanonicalUsage usage)
    {
        foreach ((UsageUnit unit, long count) in usage.Units)
        {
            if (count < 0)
            {
                return unit.UsageKey;
            }
        }

        return "a count";
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
