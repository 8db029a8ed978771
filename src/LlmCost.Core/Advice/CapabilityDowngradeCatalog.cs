using LlmCost.Core.Budgets;
using LlmCost.Core.Capabilities;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Advice;

/// <summary>
/// Downgrade candidates for adaptive budgets, from the same capability check as model selection: CURRENT models
/// (neither deprecated nor retired, by the providers' lifecycle, models.dev or genai-prices) of the requested
/// model's provider, plus configured cross-provider alternatives, that can do what a call to the requested model
/// may rely on: its input and output modalities, tool calling and reasoning when it has them, and a context
/// window that holds the call (its whole window when the call's size is not known). A requested model without
/// capability facts gets no candidates: what the call needs cannot be told, and a wrong model is worse than none.
/// The budget service prices the candidates, keeps the cheaper ones and orders them.
/// </summary>
public sealed class CapabilityDowngradeCatalog(
    IModelSelectorSource selectors,
    TimeProvider time,
    IReadOnlyDictionary<string, IReadOnlyList<string>> extraByProvider) : IDowngradeCatalog
{
    public IReadOnlyList<(string Provider, string Model)> Candidates(string provider, string model) =>
        Candidates(provider, model, null, null, null);

    IReadOnlyList<(string Provider, string Model)> IDowngradeCatalog.Candidates(string provider, string model, long inputTokens, long maxOutputTokens, string tenantId) =>
        Candidates(provider, model, inputTokens, maxOutputTokens, tenantId);

    /// <summary>
    /// With the call's size when known: the context must hold <paramref name="inputTokens"/> + <paramref name="maxOutputTokens"/>
    /// and the output limit allow <paramref name="maxOutputTokens"/>; <paramref name="tenantId"/> applies the tenant's allow-list.
    /// </summary>
    public IReadOnlyList<(string Provider, string Model)> Candidates(string provider, string model, long? inputTokens, long? maxOutputTokens, string? tenantId)
    {
        ArgumentNullException.ThrowIfNull(model);
        DateTimeOffset now = time.GetUtcNow();
        ModelSelector selector = selectors.For(tenantId);
        PriceCatalog catalog = selector.Engine.Catalog;
        PriceCatalog.Resolution resolution = catalog.Resolve(provider, model);
        if (resolution.Model is not { } resolved
            || selector.Capabilities.Find(resolved.ModelProvider, resolved.Model) is not { } requested)
        {
            return [];
        }

        CapabilityNeeds needs = inputTokens is { } input && maxOutputTokens is { } output
            ? CapabilityNeeds.SameAs(requested, wholeContext: false) with { MinContextTokens = input + output, MinOutputTokens = output }
            : CapabilityNeeds.SameAs(requested, wholeContext: true);

        var providers = new List<string> { resolved.Provider.Id };
        if (!string.Equals(resolved.ModelProvider.Id, resolved.Provider.Id, StringComparison.Ordinal))
        {
            providers.Add(resolved.ModelProvider.Id);
        }

        var extraNames = new HashSet<(string, string)>();
        foreach ((string extraProvider, IReadOnlyList<string> names) in extraByProvider)
        {
            foreach (string name in names)
            {
                if (catalog.Resolve(extraProvider, name).Model is { } extra)
                {
                    extraNames.Add((extra.ModelProvider.Id, extra.Model.Id));
                    providers.Add(extra.ModelProvider.Id);
                }
            }
        }

        var candidates = new List<(string, string)>();
        foreach (CapableModel capable in selector.CapableModels(providers, needs, tenantId, now))
        {
            bool sameProvider = capable.ProviderId == resolved.Provider.Id || capable.ProviderId == resolved.ModelProvider.Id;
            if ((sameProvider || extraNames.Contains((capable.ProviderId, capable.ModelId)))
                && !ReferenceEquals(capable.Model, resolved.Model))
            {
                // A model the requested provider serves through its fallback (azure → openai) is called through the requested provider.
                string via = capable.ProviderId == resolved.ModelProvider.Id ? resolved.Provider.Id : capable.ProviderId;
                candidates.Add((via, capable.CallableName ?? capable.ModelId));
            }
        }

        return candidates;
    }
}
