using System.Globalization;

namespace LlmCost.Core.Pricing;

/// <summary>A <see cref="PricingPolicy"/> with its explicit price tables compiled once.</summary>
internal sealed class CompiledPolicy
{
    public CompiledPolicy(PricingPolicy policy)
    {
        GlobalRules = policy.Models.Select(r => new CompiledRule(r, "policy")).ToArray();
        Tenants = policy.Tenants.ToDictionary(
            t => t.Key,
            t => new CompiledTenant(t.Value, t.Value.Models.Select(r => new CompiledRule(r, $"tenant:{t.Key}")).ToArray()),
            StringComparer.Ordinal);
    }

    public CompiledRule[] GlobalRules { get; }

    public Dictionary<string, CompiledTenant> Tenants { get; }

    public static CompiledRule? FindRule(CompiledRule[] rules, string? provider, string model)
    {
        foreach (CompiledRule rule in rules)
        {
            if (rule.Rule.Matches(provider, model))
            {
                return rule;
            }
        }

        return null;
    }
}

internal sealed record CompiledTenant(TenantPricing Terms, CompiledRule[] Rules);

internal sealed class CompiledRule(CustomModelPrice rule, string owner)
{
    public CustomModelPrice Rule { get; } = rule;

    public string Owner { get; } = owner;

    public PriceTable? Table { get; } = rule.Prices is { Count: > 0 } prices ? new PriceTable(prices) : null;
}

/// <summary>Applies a <see cref="PricingPolicy"/> in the documented precedence (see its remarks).</summary>
internal static class PolicyPricer
{
    public static PriceQuote Price(PriceCatalog catalog, PricingPolicy policy, PriceRequest request)
    {
        CompiledPolicy compiled = policy.Compiled;
        CompiledTenant? tenant = request.TenantId is not null && compiled.Tenants.TryGetValue(request.TenantId, out CompiledTenant? t) ? t : null;
        CompiledRule? rule = (tenant is null ? null : CompiledPolicy.FindRule(tenant.Rules, request.Provider, request.Model))
            ?? CompiledPolicy.FindRule(compiled.GlobalRules, request.Provider, request.Model);

        if (rule?.Table is { } table)
        {
            // Explicit prices are the tenant's net prices: only the rule's own terms adjust them.
            PricingEngine.Adjustment own = Combine(rule.Rule.RegionalUplift, rule.Rule.DiscountPercent, "rule discount");
            string source = $"{rule.Owner} custom prices for '{rule.Rule.Model}'";
            return PricingEngine.Compute(
                table, request.Usage, request.Provider ?? "custom", request.Model, source, null, own);
        }

        string? provider = request.Provider;
        string model = request.Model;
        string? mapping = null;
        if (rule is not null)
        {
            provider = rule.Rule.MapToProvider;
            model = rule.Rule.MapToModel!;
            mapping = $"{rule.Owner} maps '{request.Model}' to {(provider is null ? "" : provider + "/")}{model}";
        }

        PriceCatalog.Resolution resolution = catalog.Resolve(provider, model);
        if (resolution.Model is not { } resolved)
        {
            string reason = mapping is null ? resolution.Failure! : $"{mapping}, but {resolution.Failure}";
            return PriceQuote.Unpriced(reason, provider, null);
        }

        if (resolved.Model.Rejected is not null)
        {
            return PricingEngine.Rejected(resolved);
        }

        decimal? uplift = rule?.Rule.RegionalUplift ?? tenant?.Terms.RegionalUplift;
        (decimal? discount, string discountSource) = ChooseDiscount(rule, tenant, request.MonthToDate);
        PricingEngine.Adjustment adjustment = Combine(uplift, discount, discountSource);
        if (mapping is not null)
        {
            adjustment = adjustment with { Description = adjustment.Description is null ? mapping : $"{mapping}; {adjustment.Description}" };
        }

        PriceEntry entry = resolved.Model.PriceAt(request.Timestamp);
        return PricingEngine.Compute(entry.Table, request.Usage, resolved.Provider.Id, resolved.Model.Id, catalog.Source, entry.ConstraintText, adjustment);
    }

    /// <summary>The tenant's own terms (no model rule): uplift and the discount that applies.</summary>
    public static PricingEngine.Adjustment TenantAdjustment(PricingPolicy policy, string tenantId, MonthToDateUsage? monthToDate)
    {
        if (!policy.Compiled.Tenants.TryGetValue(tenantId, out CompiledTenant? tenant))
        {
            return PricingEngine.Adjustment.None;
        }

        (decimal? discount, string discountSource) = ChooseDiscount(null, tenant, monthToDate);
        return Combine(tenant.Terms.RegionalUplift, discount, discountSource);
    }

    private static (decimal? Discount, string Source) ChooseDiscount(CompiledRule? rule, CompiledTenant? tenant, MonthToDateUsage? monthToDate)
    {
        if (rule?.Rule.DiscountPercent is { } ruleDiscount)
        {
            return (ruleDiscount, $"{rule.Owner} model discount");
        }

        if (tenant is null)
        {
            return (null, "");
        }

        if (monthToDate is { } usage)
        {
            VolumeTier? best = null;
            foreach (VolumeTier tier in tenant.Terms.VolumeTiers)
            {
                if (tier.IsReached(usage) && (best is null || tier.DiscountPercent > best.DiscountPercent))
                {
                    best = tier;
                }
            }

            if (best is not null)
            {
                string threshold = best.Basis == VolumeBasis.MonthlySpendUsd
                    ? $"{best.Threshold.ToString(CultureInfo.InvariantCulture)} USD"
                    : $"{best.Threshold.ToString(CultureInfo.InvariantCulture)} tokens";
                return (best.DiscountPercent, $"volume tier >= {threshold} this month");
            }
        }

        return (tenant.Terms.DiscountPercent, "negotiated discount");
    }

    private static PricingEngine.Adjustment Combine(decimal? uplift, decimal? discountPercent, string discountSource)
    {
        if (uplift is null or 1m && discountPercent is null or 0m)
        {
            return PricingEngine.Adjustment.None;
        }

        decimal factor = 1m;
        var parts = new List<string>(2);
        if (uplift is { } u && u != 1m)
        {
            factor *= u;
            parts.Add($"regional uplift x{u.ToString(CultureInfo.InvariantCulture)}");
        }

        if (discountPercent is { } d && d != 0m)
        {
            factor *= 1m - (d / 100m);
            parts.Add($"{discountSource} {d.ToString(CultureInfo.InvariantCulture)}%");
        }

        return new PricingEngine.Adjustment(factor, parts.Count == 0 ? null : string.Join("; ", parts));
    }
}
