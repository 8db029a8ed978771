// Long on purpose: one selection is one pass (filters with their exclusion reasons, pricing, ranking) whose steps
// share the per-model index built at construction; the capability filters are its body, not separate features.
using LlmCost.Core.Budgets;
using LlmCost.Core.Capabilities;
using LlmCost.Core.Estimation;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Advice;

/// <summary>
/// Cost-optimal model selection: every model of the considered providers is checked against the task profile
/// (current, allowed, capable, big enough, above the tenant's quality floor), the survivors are priced for the
/// expected tokens under the tenant's prices (<see cref="PricingEngine"/> with its <see cref="PricingPolicy"/>) and
/// ranked cheapest first. Every model examined is either a candidate with the needs it meets or an exclusion
/// with all its reasons.
/// </summary>
/// <remarks>
/// The per-model facts (capabilities, callable name, provider grouping) are indexed once at construction; a
/// selection is then a linear pass over the considered providers' models plus one pricing per survivor.
/// </remarks>
public sealed class ModelSelector : IModelSelectorSource
{
    public const int DefaultMaxCandidates = 20;
    public const int MaxMaxCandidates = 100;

    private static readonly SelectionReason s_notAllowed = new(ExclusionCodes.NotAllowed, "not in the allow-list (request, tenant or task type)");

    private readonly CapabilityCatalog _capabilities;
    private readonly PricingEngine _engine;
    private readonly AdviceSettings _settings;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Entry[]> _byProvider;
    private readonly string[] _providersWithData;

    public ModelSelector(CapabilityCatalog capabilities, PricingEngine engine, AdviceSettings? settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(capabilities);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(time);
        if (!ReferenceEquals(capabilities.Prices, engine.Catalog))
        {
            throw new ArgumentException("The capability catalog must be built over the engine's price catalog.", nameof(capabilities));
        }

        _capabilities = capabilities;
        _engine = engine;
        _settings = settings ?? AdviceSettings.Empty;
        _time = time;
        _byProvider = new Dictionary<string, Entry[]>(StringComparer.Ordinal);
        var withData = new List<string>();
        foreach (CatalogProvider provider in engine.Catalog.Providers)
        {
            var entries = new Entry[provider.Models.Count];
            bool any = false;
            for (int i = 0; i < entries.Length; i++)
            {
                CatalogModel model = provider.Models[i];
                ModelCapabilities? facts = capabilities.Find(provider, model);
                any |= facts is not null;
                entries[i] = new Entry(provider, model, facts, engine.Catalog.CallableName(provider, model))
                {
                    NoData = facts is null ? NoDataExclusions(provider, model, capabilities) : null,
                    Lifecycle = capabilities.LifecycleOf(provider.Id, model.Id),
                };
            }

            _byProvider[provider.Id] = entries;
            if (any)
            {
                withData.Add(provider.Id);
            }
        }

        _providersWithData = [.. withData];
    }

    /// <summary>The same index of models and capabilities, priced with another engine over the same catalog (a tenant's terms).</summary>
    private ModelSelector(ModelSelector other, PricingEngine engine)
    {
        _capabilities = other._capabilities;
        _engine = engine;
        _settings = other._settings;
        _time = other._time;
        _byProvider = other._byProvider;
        _providersWithData = other._providersWithData;
    }

    public CapabilityCatalog Capabilities => _capabilities;

    public PricingEngine Engine => _engine;

    public AdviceSettings Settings => _settings;

    /// <summary>This selector prices every tenant with its own engine (a fixed catalog and policy file).</summary>
    public ModelSelector For(string? tenantId) => this;

    /// <summary>This selector priced with <paramref name="engine"/>, which must price over the same catalog (cheap: the index is shared).</summary>
    public ModelSelector WithEngine(PricingEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (!ReferenceEquals(engine.Catalog, _engine.Catalog))
        {
            throw new ArgumentException("The engine must price over the selector's catalog.", nameof(engine));
        }

        return ReferenceEquals(engine, _engine) ? this : new ModelSelector(this, engine);
    }

    /// <summary>Now, by the injected clock: lifecycle is judged at the time advice is given, not at the time of the traffic.</summary>
    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Selects for one task profile; invalid input is a field-named error, never an exception.</summary>
    public Validated<ModelSelectionResult> Select(ModelSelectionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        void Error(string field, string message) => errors[field] = [message];

        TenantAdvice tenant = _settings.For(request.TenantId);
        Modalities input = ParseModalities(request.InputModalities, "input_modalities", Error);
        Modalities output = ParseModalities(request.OutputModalities, "output_modalities", Error);
        TaskTypeAdvice? task = null;
        if (request.TaskType is not null && !tenant.TaskTypes.TryGetValue(request.TaskType, out task))
        {
            Error("task_type", $"unknown task type '{request.TaskType}' for this tenant (configure it under task_types)");
        }

        if (request.ExpectedOutputTokens is null)
        {
            Error("expected_output_tokens", "required (output tokens usually dominate the price)");
        }
        else if (request.ExpectedOutputTokens < 0)
        {
            Error("expected_output_tokens", "must be >= 0");
        }

        if (request.ExpectedInputTokens is null == request.Prompt is null)
        {
            Error("expected_input_tokens", "give expected_input_tokens or prompt (one of them)");
        }
        else if (request.ExpectedInputTokens < 0)
        {
            Error("expected_input_tokens", "must be >= 0");
        }

        if (request.MinContextTokens < 0)
        {
            Error("min_context_tokens", "must be >= 0");
        }

        if (request.MaxCostPerCallUsd < 0)
        {
            Error("max_cost_per_call_usd", "must be >= 0");
        }

        if (request.MaxCandidates is < 1 or > MaxMaxCandidates)
        {
            Error("max_candidates", $"1..{MaxMaxCandidates}");
        }

        var allowed = new List<ModelRef>();
        for (int i = 0; i < (request.AllowedModels?.Count ?? 0); i++)
        {
            if (ModelRef.TryParse(request.AllowedModels![i], _engine.Catalog, out ModelRef reference, out string? error))
            {
                allowed.Add(reference);
            }
            else
            {
                Error($"allowed_models[{i}]", error!);
            }
        }

        IReadOnlyList<string> providers = request.Providers is { Count: > 0 } ? request.Providers
            : tenant.Providers.Count > 0 ? tenant.Providers
            : _providersWithData;
        for (int i = 0; i < providers.Count; i++)
        {
            if (!_byProvider.ContainsKey(providers[i]))
            {
                Error($"providers[{i}]", $"unknown provider '{providers[i]}'");
            }
        }

        if (errors.Count > 0)
        {
            return Validated<ModelSelectionResult>.Fail(errors);
        }

        DateTimeOffset at = _time.GetUtcNow();
        long outputTokens = request.ExpectedOutputTokens!.Value;
        var counted = new Dictionary<(ModelFamily, string?), (long Tokens, string Source)>();
        var memo = new TextTokenMemo();
        var kept = new List<Kept>();
        var excluded = new List<SelectionExclusion>();
        int considered = 0;
        foreach (string providerId in providers.Distinct(StringComparer.Ordinal))
        {
            foreach (Entry entry in _byProvider[providerId])
            {
                considered++;
                var reasons = new List<SelectionReason>();
                string modelId = entry.Model.Id;
                if (!tenant.Allows(providerId, modelId)
                    || (allowed.Count > 0 && !allowed.Any(r => r.Matches(providerId, modelId)))
                    || (task?.AllowedModels is { } taskAllowed && !taskAllowed.Any(r => r.Matches(providerId, modelId))))
                {
                    reasons.Add(s_notAllowed);
                }

                if (entry.Facts is not { } facts)
                {
                    // Precomputed per lifecycle status: most catalog models have no facts, and this keeps them cheap.
                    SelectionExclusion noData = entry.NoData![(int)CapabilityCatalog.StatusOf(entry.Lifecycle, entry.Model.Deprecated, at)];
                    excluded.Add(reasons.Count == 0 ? noData : noData with { Reasons = [.. reasons, .. noData.Reasons] });
                    continue;
                }

                if (entry.Model.Rejected is not null)
                {
                    reasons.Add(new SelectionReason(ExclusionCodes.RejectedPrice, $"its price was rejected when the catalog was loaded: {entry.Model.Rejected}"));
                }

                (long inputTokens, string inputSource) = request.ExpectedInputTokens is { } given
                    ? (given, "given")
                    : Count(request.Prompt!, providerId, entry.CallableName ?? modelId, counted, memo);
                var needs = new CapabilityNeeds(
                    input, output, request.Tools, request.Reasoning,
                    Math.Max(request.MinContextTokens ?? 0, inputTokens + outputTokens), outputTokens);
                needs.Check(facts, at, reasons);

                int? quality = tenant.QualityOf(providerId, modelId);
                if (task?.MinQuality is { } floor)
                {
                    if (quality is null)
                    {
                        reasons.Add(new SelectionReason(ExclusionCodes.NoQualityScore, $"task type '{request.TaskType}' needs quality >= {floor}; the tenant gave this model no score"));
                    }
                    else if (quality < floor)
                    {
                        reasons.Add(new SelectionReason(ExclusionCodes.BelowQualityFloor, $"quality {quality} < {floor} for task type '{request.TaskType}'"));
                    }
                }

                if (reasons.Count > 0)
                {
                    excluded.Add(new SelectionExclusion(providerId, modelId, reasons));
                    continue;
                }

                var usage = new CanonicalUsage { InputTokens = inputTokens, OutputTokens = outputTokens };
                PriceQuote quote = Price(entry, usage, at, request.TenantId);
                if (!quote.Priced)
                {
                    excluded.Add(new SelectionExclusion(providerId, modelId, [new SelectionReason(ExclusionCodes.Unpriced, quote.Reason ?? "no price")]));
                    continue;
                }

                if (request.MaxCostPerCallUsd is { } max && quote.CostUsd > max)
                {
                    excluded.Add(new SelectionExclusion(providerId, modelId,
                        [new SelectionReason(ExclusionCodes.OverBudget, $"estimated {Money(quote.CostUsd)} USD > max {Money(max)} USD per call")]));
                    continue;
                }

                kept.Add(new Kept(entry, facts, needs, quote, quality, inputTokens, inputSource));
            }
        }

        List<Kept> ranked = [.. kept
            .OrderBy(c => c.Quote.CostUsd)
            .ThenByDescending(c => c.Quality ?? -1)
            .ThenByDescending(c => c.Facts.ReleaseDate ?? DateOnly.MinValue)
            .ThenBy(c => c.Entry.Provider.Id, StringComparer.Ordinal)
            .ThenBy(c => c.Entry.Model.Id, StringComparer.Ordinal)];
        int limit = request.MaxCandidates ?? DefaultMaxCandidates;
        return Validated<ModelSelectionResult>.Ok(new ModelSelectionResult
        {
            At = at,
            PriceSource = _engine.Catalog.Source,
            CapabilitySource = _capabilities.Source,
            Considered = considered,
            Candidates = [.. ranked.Take(limit).Select((c, i) => Explain(c, i + 1, request, task))],
            MoreCandidates = Math.Max(0, ranked.Count - limit),
            Excluded = excluded,
        });
    }

    /// <summary>
    /// Current models of <paramref name="providers"/> that meet <paramref name="needs"/> and the tenant's allow-list,
    /// without pricing (the caller prices them for its own usage). For the downgrade catalog and recommendations.
    /// </summary>
    public IReadOnlyList<CapableModel> CapableModels(IEnumerable<string> providers, CapabilityNeeds needs, string? tenantId, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(providers);
        TenantAdvice tenant = _settings.For(tenantId);
        var result = new List<CapableModel>();
        var reasons = new List<SelectionReason>();
        foreach (string providerId in providers.Distinct(StringComparer.Ordinal))
        {
            if (!_byProvider.TryGetValue(providerId, out Entry[]? entries))
            {
                continue;
            }

            foreach (Entry entry in entries)
            {
                if (entry.Facts is not { } facts || entry.Model.Rejected is not null || !tenant.Allows(providerId, entry.Model.Id))
                {
                    continue;
                }

                reasons.Clear();
                needs.Check(facts, at, reasons);
                if (reasons.Count == 0)
                {
                    result.Add(new CapableModel(entry.Provider, entry.Model, facts, entry.CallableName));
                }
            }
        }

        return result;
    }

    private static SelectionCandidate Explain(Kept c, int rank, ModelSelectionRequest request, TaskTypeAdvice? task)
    {
        var why = new List<string> { c.Needs.Describe(c.Facts), "current (not deprecated or retired)" };
        if (task?.MinQuality is { } met)
        {
            why.Add($"quality {c.Quality} >= {met}");
        }

        if (request.MaxCostPerCallUsd is { } budget)
        {
            why.Add($"estimated {Money(c.Quote.CostUsd)} USD <= max {Money(budget)} USD per call");
        }

        why.Add($"priced by {c.Quote.Source}");
        return new SelectionCandidate(
            rank, c.Entry.Provider.Id, c.Entry.Model.Id, c.Entry.CallableName, c.Quote.CostUsd, c.InputTokens, c.Needs.MinOutputTokens, c.InputSource,
            c.Facts.ContextTokens, c.Facts.MaxOutputTokens, c.Quality, c.Facts.ReleaseDate, c.Quote.PriceVariant, why);
    }

    private PriceQuote Price(Entry entry, CanonicalUsage usage, DateTimeOffset at, string? tenantId) =>
        entry.CallableName is { } name
            // By name, so that the tenant's name-based rules (custom prices, mappings) apply as they would to the real call.
            ? _engine.Price(new PriceRequest(entry.Provider.Id, name, at, usage, tenantId))
            : _engine.PriceAs(new CatalogModelPrice(entry.Provider, entry.Model, entry.Model.PriceAt(at)), usage, tenantId);

    /// <summary>
    /// The prompt's tokens for a model, counted once per tokenizer family and encoding (OpenAI models differ:
    /// cl100k_base for gpt-4 and gpt-3.5, o200k_base after), and the prompt text itself tokenised once per encoding
    /// (the Anthropic and Gemini estimates start from the same o200k_base count as the OpenAI one).
    /// </summary>
    private static (long, string) Count(string prompt, string provider, string model, Dictionary<(ModelFamily, string?), (long, string)> counted, TextTokenMemo memo)
    {
        ModelFamily family = PromptTokenCounter.FamilyOf(provider, model);
        (ModelFamily, string?) key = (family, family == ModelFamily.OpenAi ? TokenizerCache.EncodingForModel(model) : null);
        if (!counted.TryGetValue(key, out (long, string) count))
        {
            PromptTokenCount result = PromptTokenCounter.Default.Count(provider, model, [new ChatMessage("user", prompt)], memo: memo);
            count = (result.Tokens, result.Exact ? "counted_exact" : "counted_estimate");
            counted[key] = count;
        }

        return count;
    }

    private static Modalities ParseModalities(IReadOnlyList<string>? names, string field, Action<string, string> error)
    {
        if (names is null)
        {
            return Modalities.Text;
        }

        Modalities all = Modalities.None;
        for (int i = 0; i < names.Count; i++)
        {
            if (ModalityNames.TryParse(names[i], out Modalities one))
            {
                all |= one;
            }
            else
            {
                error($"{field}[{i}]", $"unknown modality '{names[i]}' (known: {string.Join(", ", ModalityNames.Known)})");
            }
        }

        if (names.Count == 0)
        {
            error(field, "at least one modality");
        }

        return all;
    }

    internal static string Money(decimal amount) => MoneyFormat.Format(amount);

    /// <summary>The exclusion of a model without capability facts, by <see cref="ModelStatus"/> (index = status).</summary>
    private static SelectionExclusion[] NoDataExclusions(CatalogProvider provider, CatalogModel model, CapabilityCatalog capabilities)
    {
        var noData = new SelectionReason(ExclusionCodes.NoCapabilityData, $"no capability facts in {capabilities.Source}: cannot tell whether it fits");
        ModelLifecycle? lifecycle = capabilities.LifecycleOf(provider.Id, model.Id);
        string source = lifecycle is null ? "deprecated in the price catalog (genai-prices)" : $"source {lifecycle.Source}";
        return
        [
            new SelectionExclusion(provider.Id, model.Id, [noData]),
            new SelectionExclusion(provider.Id, model.Id, [new SelectionReason(ExclusionCodes.Deprecated, lifecycle is null ? source : $"deprecated; {source}"), noData]),
            new SelectionExclusion(provider.Id, model.Id, [new SelectionReason(ExclusionCodes.Retired, $"retired; {source}"), noData]),
        ];
    }

    private sealed record Entry(CatalogProvider Provider, CatalogModel Model, ModelCapabilities? Facts, string? CallableName)
    {
        public SelectionExclusion[]? NoData { get; init; }

        public ModelLifecycle? Lifecycle { get; init; }
    }

    /// <summary>A survivor before ranking: its explanation is only written for the candidates returned.</summary>
    private readonly record struct Kept(Entry Entry, ModelCapabilities Facts, CapabilityNeeds Needs, PriceQuote Quote, int? Quality, long InputTokens, string InputSource);
}

/// <summary>A current catalog model that meets some needs.</summary>
public sealed record CapableModel(CatalogProvider Provider, CatalogModel Model, ModelCapabilities Facts, string? CallableName)
{
    public string ProviderId => Provider.Id;

    public string ModelId => Model.Id;
}
