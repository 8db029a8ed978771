using LlmCost.Core.Pricing;

namespace LlmCost.Core.Advice;

/// <summary>The selector that prices advice for one tenant (its policy, the catalog in force).</summary>
public interface IModelSelectorSource
{
    ModelSelector For(string? tenantId);
}

/// <summary>
/// Advice priced as the tenant's calls are: the terms the ingest uses (the catalog in force, published or built in,
/// and the tenant's policy in force now), resolved at request time, never at start-up (both live in storage). The
/// capability index is built once per catalog version and shared by every tenant; a tenant's selector only swaps
/// the engine. Volume tiers price at the first tier (advice compares models, not this month's bill).
/// </summary>
public sealed class TenantModelSelectors(IPricingTermsSource terms, Func<PriceCatalog, ModelSelector> build, TimeProvider time) : IModelSelectorSource
{
    private readonly Lock _gate = new();
    private ModelSelector? _current;

    public ModelSelector For(string? tenantId)
    {
        PricingEngine engine = terms.For(tenantId, time.GetUtcNow()).Engine;
        return ForCatalog(engine.Catalog).WithEngine(engine);
    }

    private ModelSelector ForCatalog(PriceCatalog catalog)
    {
        ModelSelector? current = _current;
        if (current is not null && ReferenceEquals(current.Engine.Catalog, catalog))
        {
            return current;
        }

        lock (_gate)
        {
            if (_current is not { } built || !ReferenceEquals(built.Engine.Catalog, catalog))
            {
                // A new catalog version came into force: index it once (list prices; tenants swap the engine).
                built = build(catalog);
                _current = built;
            }

            return built;
        }
    }
}
