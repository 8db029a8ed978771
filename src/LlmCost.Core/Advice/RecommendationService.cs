// Long on purpose: each recommendation kind's rule (see docs/advice.md) in RecommendationCalculator, one pure pass
// over the period's usage; splitting the kinds apart would hide the shared re-pricing and evidence they build on.
using LlmCost.Core.Budgets;
using LlmCost.Core.Capabilities;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Advice;

/// <summary>
/// Recommendations from recorded usage, each re-priced with the catalog and the tenant's policy (see
/// docs/advice.md for each kind's rule). Reads the period once through <see cref="IAdviceUsageSource"/>; the
/// work is in <see cref="RecommendationCalculator"/>, which is pure.
/// </summary>
public sealed class RecommendationService(IModelSelectorSource selectors, IAdviceUsageSource usage)
{
    /// <summary>Longest period answered on demand.</summary>
    public const int MaxPeriodDays = 400;

    public async Task<Validated<RecommendationReport>> RecommendAsync(RecommendationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (Validate(request) is { } errors)
        {
            return Validated<RecommendationReport>.Fail(errors);
        }

        var calculator = new RecommendationCalculator(selectors.For(request.TenantId), request);
        await foreach (UsageEvent e in usage.ReadAsync(request.TenantId, request.From, request.To, cancellationToken).ConfigureAwait(false))
        {
            calculator.Add(e);
        }

        return Validated<RecommendationReport>.Ok(calculator.Finish());
    }

    public static IReadOnlyDictionary<string, string[]>? Validate(RecommendationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Dictionary<string, string[]> errors = ValidatePeriod(request.TenantId, request.From, request.To);
        if (!RecommendationScopes.All.Contains(request.Scope))
        {
            errors["scope"] = [$"one of {string.Join(", ", RecommendationScopes.All)}"];
        }
        else if (request.Scope == RecommendationScopes.Tenant && request.ScopeId is not null && request.ScopeId != request.TenantId)
        {
            errors["scope_id"] = ["for scope tenant, omit scope_id or give the tenant id"];
        }

        for (int i = 0; i < (request.Kinds?.Count ?? 0); i++)
        {
            if (!RecommendationKinds.All.Contains(request.Kinds![i]))
            {
                errors[$"kinds[{i}]"] = [$"one of {string.Join(", ", RecommendationKinds.All)}"];
            }
        }

        return errors.Count > 0 ? errors : null;
    }

    /// <summary>The tenant and half-open period every advice query takes (also business metrics).</summary>
    internal static Dictionary<string, string[]> ValidatePeriod(string? tenantId, DateTimeOffset from, DateTimeOffset to)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(tenantId))
        {
            errors["tenant_id"] = ["required"];
        }

        if (to <= from)
        {
            errors["to"] = ["must be after from"];
        }
        else if ((to - from).TotalDays > MaxPeriodDays)
        {
            errors["from"] = [$"the period is at most {MaxPeriodDays} days"];
        }

        return errors;
    }
}

/// <summary>
/// Accumulates recorded events (one pass, memory per scope × model, not per event) and turns them into
/// recommendations. Every projected cost is the recorded usage re-priced by the selector's engine: the tenant's
/// policy applies as it does to a real call of that model name, at the event's own timestamp.
/// </summary>
public sealed class RecommendationCalculator
{
    /// <summary>"Just above" a long-context threshold: at most this fraction over it.</summary>
    public const decimal TierMargin = 0.10m;

    /// <summary>Reasoning is "dominating" when it is at least this share of the output cost.</summary>
    public const decimal ReasoningShareThreshold = 0.5m;

    /// <summary>Fewer long prompts than this is no evidence of repetition.</summary>
    public const int MinCachingRequests = 10;

    private readonly ModelSelector _selector;
    private readonly RecommendationRequest _request;
    private readonly TenantAdvice _tenant;
    private readonly PricingEngine _engine;
    private readonly Dictionary<(string Scope, string Provider, string Model), Group> _groups = [];
    private readonly HashSet<string> _kinds;
    private long _requests;
    private long _unpriced;

    public RecommendationCalculator(ModelSelector selector, RecommendationRequest request)
    {
        ArgumentNullException.ThrowIfNull(selector);
        ArgumentNullException.ThrowIfNull(request);
        _selector = selector;
        _request = request;
        _engine = selector.Engine;
        _tenant = selector.Settings.For(request.TenantId);
        _kinds = [.. request.Kinds ?? RecommendationKinds.All];
        _now = selector.Now;
    }

    private readonly DateTimeOffset _now;

    public void Add(UsageEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.TenantId != _request.TenantId || e.Timestamp < _request.From || e.Timestamp >= _request.To)
        {
            return;
        }

        string? scopeId = _request.Scope switch
        {
            RecommendationScopes.Team => e.TeamId,
            RecommendationScopes.User => e.UserId,
            RecommendationScopes.App => e.App,
            _ => e.TenantId,
        };
        if (scopeId is null || (_request.ScopeId is not null && scopeId != _request.ScopeId))
        {
            return;
        }

        _requests++;
        if (!e.Priced)
        {
            _unpriced++;
            return;
        }

        (string, string, string) key = (scopeId, e.Provider, e.Model);
        if (!_groups.TryGetValue(key, out Group? group))
        {
            group = new Group(scopeId, e.Provider, e.Model, Resolve(e));
            _groups[key] = group;
        }

        group.Add(e, this);
    }

    public RecommendationReport Finish()
    {
        var recommendations = new List<Recommendation>();
        foreach (Group group in _groups.Values)
        {
            group.Finish(this, recommendations);
        }

        return new RecommendationReport
        {
            TenantId = _request.TenantId,
            From = _request.From,
            To = _request.To,
            PriceSource = _engine.Catalog.Source,
            CapabilitySource = _selector.Capabilities.Source,
            Requests = _requests,
            UnpricedRequests = _unpriced,
            Recommendations = [.. recommendations
                .OrderByDescending(r => r.SavingsUsd)
                .ThenBy(r => r.Kind, StringComparer.Ordinal)
                .ThenBy(r => r.ScopeId, StringComparer.Ordinal)
                .ThenBy(r => r.Model, StringComparer.Ordinal)],
        };
    }

    private ResolvedModel? Resolve(UsageEvent e) => _engine.Catalog.Resolve(e.Provider, e.Model).Model;

    /// <summary>The recorded usage priced as a call of <paramref name="name"/> would be (the tenant's name rules apply), at <paramref name="at"/>.</summary>
    internal PriceQuote Reprice(string provider, string name, CanonicalUsage usage, DateTimeOffset at) =>
        _engine.Price(new PriceRequest(provider, name, at, usage, _request.TenantId));

    internal PriceQuote RepriceOn(CatalogProvider provider, CatalogModel model, string? callableName, CanonicalUsage usage, DateTimeOffset at) =>
        callableName is { } name
            ? Reprice(provider.Id, name, usage, at)
            : _engine.PriceAs(new CatalogModelPrice(provider, model, model.PriceAt(at)), usage, _request.TenantId);

    private bool IsNonInteractive(UsageEvent e, out string? by)
    {
        if (e.App is { } app && _tenant.NonInteractiveApps.Contains(app, StringComparer.Ordinal))
        {
            by = $"app '{app}' is configured non-interactive";
            return true;
        }

        if (e.Tags.TryGetValue("interactive", out string? interactive) && string.Equals(interactive, "false", StringComparison.OrdinalIgnoreCase))
        {
            by = "tag interactive=false";
            return true;
        }

        foreach ((string tag, string value) in _tenant.NonInteractiveTags)
        {
            if (e.Tags.TryGetValue(tag, out string? actual) && string.Equals(actual, value, StringComparison.Ordinal))
            {
                by = $"tag {tag}={value} is configured non-interactive";
                return true;
            }
        }

        by = null;
        return false;
    }

    private sealed class CandidateTotal(CapableModel model)
    {
        public CapableModel Model { get; } = model;

        public decimal Projected { get; set; }

        public long Unpriced { get; set; }
    }

    /// <summary>One (scope, provider, model as recorded) and everything each rule needs, accumulated event by event.</summary>
    private sealed class Group
    {
        private readonly string _scopeId;
        private readonly string _provider;
        private readonly string _model;
        private readonly ResolvedModel? _resolved;
        private List<CandidateTotal>? _candidates;
        private ModelCapabilities? _facts;

        private long _requests;
        private decimal _cost;
        private long _input, _output, _cacheRead, _cacheWrite, _reasoning, _maxInput, _maxOutput, _maxTotal;
        private bool _audioIn, _audioOut;

        // prompt_caching
        private long _longRequests;
        private decimal _longCost;
        private decimal _cachingSavings;
        private bool _cachingUnpriced;

        // long_context_tier
        private long _tierRequests;
        private long _tierThreshold = long.MaxValue;
        private decimal _tierCost;
        private decimal _tierSavings;

        // batch_or_off_peak
        private long _batchRequests;
        private decimal _batchCost;
        private decimal _offPeakSavings;
        private string? _offPeakWindow;
        private string? _nonInteractiveBy;
        private CatalogModel? _batchVariant;
        private decimal _variantProjected;
        private bool _variantUnpriced;

        // reasoning_share
        private decimal _reasoningCost;
        private decimal _outputCost;
        private decimal _reasoningSavings;

        public Group(string scopeId, string provider, string model, ResolvedModel? resolved)
        {
            _scopeId = scopeId;
            _provider = provider;
            _model = model;
            _resolved = resolved;
        }

        public void Add(UsageEvent e, RecommendationCalculator calc)
        {
            CanonicalUsage u = e.Usage;
            _requests++;
            _cost += e.CostUsd;
            _input += u.InputTokens;
            _output += u.OutputTokens;
            _cacheRead += u.CacheReadTokens;
            _cacheWrite += u.CacheWriteTokens;
            _reasoning += u.ReasoningTokens;
            _maxInput = Math.Max(_maxInput, u.InputTokens);
            _maxOutput = Math.Max(_maxOutput, u.OutputTokens);
            _maxTotal = Math.Max(_maxTotal, u.InputTokens + u.OutputTokens);
            _audioIn |= u.InputAudioTokens > 0;
            _audioOut |= u.OutputAudioTokens > 0;
            if (_resolved is null)
            {
                return;
            }

            if (calc._kinds.Contains(RecommendationKinds.CheaperModel))
            {
                _candidates ??= Candidates(calc);
                foreach (CandidateTotal candidate in _candidates)
                {
                    CapableModel m = candidate.Model;
                    PriceQuote quote = calc.RepriceOn(m.Provider, m.Model, m.CallableName, u, e.Timestamp);
                    if (quote.Priced)
                    {
                        candidate.Projected += quote.CostUsd;
                    }
                    else
                    {
                        candidate.Unpriced++;
                    }
                }
            }

            // The estimate kinds compare two re-pricings under identical terms, so the saving is never an artefact
            // of pricing differences between recording time and now.
            PriceQuote? original = null;
            PriceQuote Original() => original ??= calc.Reprice(_provider, _model, u, e.Timestamp);
            PriceTable table = _resolved.Model.PriceAt(e.Timestamp).Table;

            if (calc._kinds.Contains(RecommendationKinds.PromptCaching)
                && u.CacheReadTokens == 0 && u.CacheWriteTokens == 0 && u.InputTokens >= calc._tenant.CachingMinPromptTokens
                && table.TryGetPrice("cache_read_mtok", out _))
            {
                long textInput = u.InputTokens - u.InputAudioTokens;
                long prefix = (long)decimal.Floor(textInput * calc._tenant.CachingRepeatedShare);
                bool writes = _longRequests % calc._tenant.CachingWriteEvery == 0;
                _longRequests++;
                _longCost += e.CostUsd;
                CanonicalUsage cached = writes
                    ? u with { CacheWriteTokens = table.TryGetPrice("cache_write_mtok", out _) ? prefix : 0 }
                    : u with { CacheReadTokens = prefix };
                PriceQuote projected = calc.Reprice(_provider, _model, cached, e.Timestamp);
                if (projected.Priced && Original().Priced)
                {
                    _cachingSavings += Original().CostUsd - projected.CostUsd;
                }
                else
                {
                    _cachingUnpriced = true;
                }
            }

            if (calc._kinds.Contains(RecommendationKinds.LongContextTier) && Threshold(table) is { } threshold
                && u.InputTokens > threshold && u.InputTokens <= threshold + (long)decimal.Floor(threshold * TierMargin))
            {
                long cut = u.InputTokens - threshold;
                long plain = u.InputTokens - u.CacheReadTokens - u.CacheWriteTokens - u.InputAudioTokens;
                if (plain >= cut)
                {
                    PriceQuote trimmed = calc.Reprice(_provider, _model, u with { InputTokens = threshold }, e.Timestamp);
                    if (trimmed.Priced && Original().Priced)
                    {
                        _tierRequests++;
                        _tierThreshold = Math.Min(_tierThreshold, threshold);
                        _tierCost += e.CostUsd;
                        _tierSavings += Original().CostUsd - trimmed.CostUsd;
                    }
                }
            }

            if (calc._kinds.Contains(RecommendationKinds.BatchOrOffPeak) && calc.IsNonInteractive(e, out string? by))
            {
                _batchRequests++;
                _batchCost += e.CostUsd;
                _nonInteractiveBy ??= by;
                if (Original().Priced)
                {
                    (decimal cheapest, string? window) = CheapestTimeOfDay(calc, u, e.Timestamp);
                    if (cheapest < Original().CostUsd)
                    {
                        _offPeakSavings += Original().CostUsd - cheapest;
                        _offPeakWindow ??= window;
                    }
                }

                _batchVariant ??= BatchVariant(_resolved);
                if (_batchVariant is not null)
                {
                    CatalogProvider owner = _resolved.ModelProvider;
                    PriceQuote quote = calc.RepriceOn(owner, _batchVariant, calc._engine.Catalog.CallableName(owner, _batchVariant), u, e.Timestamp);
                    _variantProjected += quote.Priced ? quote.CostUsd : 0m;
                    _variantUnpriced |= !quote.Priced;
                }
            }

            if (calc._kinds.Contains(RecommendationKinds.ReasoningShare) && u.ReasoningTokens > 0 && Original().Priced)
            {
                PriceQuote without = calc.Reprice(_provider, _model, u with { OutputTokens = u.OutputTokens - u.ReasoningTokens, ReasoningTokens = 0 }, e.Timestamp);
                long half = u.ReasoningTokens / 2;
                PriceQuote halved = calc.Reprice(_provider, _model, u with { OutputTokens = u.OutputTokens - half, ReasoningTokens = u.ReasoningTokens - half }, e.Timestamp);
                if (without.Priced && halved.Priced)
                {
                    _reasoningCost += Original().OutputCostUsd - without.OutputCostUsd;
                    _outputCost += Original().OutputCostUsd;
                    _reasoningSavings += Original().CostUsd - halved.CostUsd;
                }
            }
        }

        public void Finish(RecommendationCalculator calc, List<Recommendation> into)
        {
            if (_resolved is null || _requests == 0)
            {
                return;
            }

            string scope = calc._request.Scope;
            string catalogId = $"{_resolved.ModelProvider.Id}/{_resolved.Model.Id}";
            RecommendationEvidence Base(string summary) => new()
            {
                Summary = summary,
                Requests = _requests,
                InputTokens = _input,
                OutputTokens = _output,
                CacheReadTokens = _cacheRead,
                ReasoningTokens = _reasoning,
                MaxInputTokens = _maxInput,
                MaxOutputTokens = _maxOutput,
                CatalogModel = catalogId,
                PriceSource = calc._engine.Catalog.Source,
            };
            Recommendation Make(string kind, string? suggestedProvider, string? suggestedModel, decimal current, decimal savings, RecommendationEvidence evidence) =>
                new(kind, scope, _scopeId, _provider, _model, suggestedProvider, suggestedModel, current, current - savings, savings, evidence);

            if (_candidates is not null && _facts is not null)
            {
                CheaperModel(calc, Base, into, Make);
            }

            if (_longRequests >= MinCachingRequests && _cacheRead == 0 && _cacheWrite == 0 && !_cachingUnpriced && _cachingSavings > 0)
            {
                TenantAdvice t = calc._tenant;
                into.Add(Make(RecommendationKinds.PromptCaching, null, null, _longCost, _cachingSavings, Base(
                    $"{_longRequests} prompts of at least {t.CachingMinPromptTokens} tokens and no cache reads at all on {catalogId}, which prices cache reads below input") with
                {
                    Estimate = true,
                    AffectedRequests = _longRequests,
                    Assumptions =
                    [
                        $"a repeated prefix of {t.CachingRepeatedShare:P0} of each prompt of at least {t.CachingMinPromptTokens} tokens (the tenant's caching.repeated_share)",
                        $"one request in {t.CachingWriteEvery} writes the cache, the others read it (caching.write_every)",
                        "each request re-priced with that split at the catalog's cache prices; the recorded usage does not show prompt contents, so the repetition itself is assumed",
                    ],
                }));
            }

            if (_tierRequests > 0 && _tierSavings > 0)
            {
                into.Add(Make(RecommendationKinds.LongContextTier, null, null, _tierCost, _tierSavings, Base(
                    $"{_tierRequests} requests were at most {TierMargin:P0} above the {_tierThreshold}-token threshold where {catalogId} charges its higher long-context price") with
                {
                    Estimate = true,
                    AffectedRequests = _tierRequests,
                    ThresholdTokens = _tierThreshold,
                    Assumptions =
                    [
                        $"trimming each of those prompts to {_tierThreshold} tokens (removing at most {TierMargin:P0}, uncached tokens) keeps it at the base price",
                        "the saving is those requests re-priced at the trimmed size, which includes the trimmed tokens themselves",
                    ],
                }));
            }

            if (_batchRequests > 0)
            {
                BatchOrOffPeak(calc, Base, into, Make, catalogId);
            }

            if (_outputCost > 0 && _reasoningCost / _outputCost >= ReasoningShareThreshold && _reasoningSavings > 0)
            {
                decimal share = decimal.Round(_reasoningCost / _outputCost, 4);
                into.Add(Make(RecommendationKinds.ReasoningShare, null, null, _cost, _reasoningSavings, Base(
                    $"reasoning tokens are {share:P0} of the output cost of {catalogId}: a lower reasoning effort or a thinking budget cuts them") with
                {
                    Estimate = true,
                    ReasoningCostUsd = _reasoningCost,
                    ReasoningShare = share,
                    Assumptions =
                    [
                        "one step lower reasoning effort (or a thinking budget) halves the reasoning tokens; the answer's own tokens stay",
                        "the effect on answer quality is not measured here: try it on a sample first",
                    ],
                }));
            }
        }

        private List<CandidateTotal> Candidates(RecommendationCalculator calc)
        {
            _facts = calc._selector.Capabilities.Find(_resolved!.ModelProvider, _resolved.Model);
            if (_facts is null)
            {
                return [];
            }

            // Reasoning is decided at the end (by whether the traffic produced reasoning tokens); the rest must match
            // what calls to this model may rely on.
            CapabilityNeeds needs = CapabilityNeeds.SameAs(_facts, wholeContext: false) with { Reasoning = false };
            var providers = new List<string> { _resolved.Provider.Id, _resolved.ModelProvider.Id };
            providers.AddRange(calc._tenant.Providers);
            return [.. calc._selector.CapableModels(providers, needs, calc._request.TenantId, calc._now)
                .Where(c => !ReferenceEquals(c.Model, _resolved.Model))
                .Select(c => new CandidateTotal(c))];
        }

        private void CheaperModel(
            RecommendationCalculator calc,
            Func<string, RecommendationEvidence> evidence,
            List<Recommendation> into,
            Func<string, string?, string?, decimal, decimal, RecommendationEvidence, Recommendation> make)
        {
            Modalities usedIn = _audioIn ? Modalities.Audio : Modalities.None;
            Modalities usedOut = _audioOut ? Modalities.Audio : Modalities.None;
            int? currentQuality = calc._tenant.QualityOf(_resolved!.ModelProvider.Id, _resolved.Model.Id);
            var eligible = _candidates!
                .Where(c => c.Unpriced == 0 && c.Projected < _cost)
                .Where(c => _reasoning == 0 || c.Model.Facts.Reasoning)
                .Where(c => (c.Model.Facts.Input & usedIn) == usedIn && (c.Model.Facts.Output & usedOut) == usedOut)
                .Where(c => c.Model.Facts.ContextTokens is { } context && context >= _maxTotal)
                .Where(c => c.Model.Facts.MaxOutputTokens is not { } maxOut || maxOut >= _maxOutput)
                .Where(c => currentQuality is null || calc._tenant.QualityOf(c.Model.ProviderId, c.Model.ModelId) >= currentQuality)
                .OrderBy(c => c.Projected)
                .ThenBy(c => c.Model.ProviderId, StringComparer.Ordinal)
                .ThenBy(c => c.Model.ModelId, StringComparer.Ordinal)
                .ToList();
            if (eligible.Count == 0)
            {
                return;
            }

            CandidateTotal best = eligible[0];
            string suggested = best.Model.CallableName ?? best.Model.ModelId;
            ModelStatus status = _facts!.StatusAt(calc._now);
            var needs = CapabilityNeeds.SameAs(_facts, wholeContext: false) with
            {
                Reasoning = _reasoning > 0,
                MinContextTokens = _maxTotal,
                MinOutputTokens = _maxOutput,
            };
            into.Add(make(RecommendationKinds.CheaperModel, best.Model.ProviderId, suggested, _cost, _cost - best.Projected, evidence(
                $"the same {_requests} requests re-priced on {best.Model.ProviderId}/{best.Model.ModelId}, a current model with the capabilities the traffic needs, cost {ModelSelector.Money(best.Projected)} USD instead of {ModelSelector.Money(_cost)} USD") with
            {
                CurrentModelStatus = status.ToString().ToLowerInvariant(),
                QualityCompared = currentQuality is not null,
                CapabilityMatch = needs.Describe(best.Model.Facts),
                Alternatives = [.. eligible.Skip(1).Take(3).Select(c => new RecommendationAlternative(
                    c.Model.ProviderId, c.Model.CallableName ?? c.Model.ModelId, c.Projected, _cost - c.Projected,
                    calc._tenant.QualityOf(c.Model.ProviderId, c.Model.ModelId)))],
                Assumptions = currentQuality is null
                    ? ["answer quality is not compared: the tenant gave this model no quality score (configure quality to require equal or better)"]
                    : [$"only models the tenant scored at least {currentQuality} (this model's score) were considered"],
                Source = best.Model.Facts.Source,
            }));
        }

        private void BatchOrOffPeak(
            RecommendationCalculator calc,
            Func<string, RecommendationEvidence> evidence,
            List<Recommendation> into,
            Func<string, string?, string?, decimal, decimal, RecommendationEvidence, Recommendation> make,
            string catalogId)
        {
            decimal variantSavings = _batchVariant is not null && !_variantUnpriced ? _batchCost - _variantProjected : 0m;
            if (_offPeakSavings > 0 && _offPeakSavings >= variantSavings)
            {
                into.Add(make(RecommendationKinds.BatchOrOffPeak, _resolved!.Provider.Id, null, _batchCost, _offPeakSavings, evidence(
                    $"{_batchRequests} non-interactive requests ran when {catalogId} charges more than in its cheaper daily window ({_offPeakWindow})") with
                {
                    AffectedRequests = _batchRequests,
                    Window = _offPeakWindow,
                    NonInteractiveBy = _nonInteractiveBy,
                    Assumptions = ["each request re-priced at the catalog's price in the cheapest window of its own UTC day"],
                }));
                return;
            }

            if (variantSavings > 0)
            {
                CatalogProvider owner = _resolved!.ModelProvider;
                string name = calc._engine.Catalog.CallableName(owner, _batchVariant!) ?? _batchVariant!.Id;
                into.Add(make(RecommendationKinds.BatchOrOffPeak, owner.Id, name, _batchCost, variantSavings, evidence(
                    $"{_batchRequests} non-interactive requests could use the catalog's batch/flex price of {catalogId} ({owner.Id}/{_batchVariant!.Id})") with
                {
                    AffectedRequests = _batchRequests,
                    Window = $"variant {_batchVariant.Id}",
                    NonInteractiveBy = _nonInteractiveBy,
                    Assumptions = ["each request re-priced at the variant's catalog price"],
                }));
                return;
            }

            if (calc._selector.Capabilities.BatchDiscountFor(_resolved!.ModelProvider.Id) is { } discount)
            {
                decimal savings = _batchCost * discount.DiscountPercent / 100m;
                into.Add(make(RecommendationKinds.BatchOrOffPeak, _resolved.ModelProvider.Id, null, _batchCost, savings, evidence(
                    $"{_batchRequests} non-interactive requests could go through {_resolved.ModelProvider.Id}'s batch API at {discount.DiscountPercent}% off") with
                {
                    Estimate = true,
                    AffectedRequests = _batchRequests,
                    NonInteractiveBy = _nonInteractiveBy,
                    Window = "batch API",
                    Source = discount.Source,
                    Assumptions =
                    [
                        $"the provider's published batch discount of {discount.DiscountPercent}% applies to the recorded cost (the price catalog does not price batch calls)",
                        "results within the provider's batch window (up to 24 h) are acceptable for this traffic",
                    ],
                }));
            }
        }

        /// <summary>The smallest tier start of any priced unit: above it, the request's whole price steps up.</summary>
        private static long? Threshold(PriceTable table)
        {
            long? lowest = null;
            foreach (KeyValuePair<string, PriceValue> price in table.Prices)
            {
                foreach (PriceTier tier in price.Value.Tiers)
                {
                    lowest = lowest is null ? tier.Start : Math.Min(lowest.Value, tier.Start);
                }
            }

            return lowest;
        }

        /// <summary>The cheapest price of the same usage at any time of the event's UTC day (off-peak windows), with that window.</summary>
        private (decimal Cost, string? Window) CheapestTimeOfDay(RecommendationCalculator calc, CanonicalUsage u, DateTimeOffset at)
        {
            decimal cheapest = decimal.MaxValue;
            string? window = null;
            var windows = _resolved!.Model.Prices.Select(p => p.Constraint).OfType<TimeOfDayConstraint>().ToList();
            if (windows.Count == 0)
            {
                return (cheapest, null);
            }

            DateTimeOffset day = new(at.UtcDateTime.Date, TimeSpan.Zero);
            foreach (TimeOfDayConstraint constraint in windows)
            {
                // Inside the window, and just after it (where the table the window overrides applies).
                foreach ((double ms, bool inside) in new[] { (constraint.StartMs, true), (constraint.EndMs, false) })
                {
                    DateTimeOffset instant = day.AddMilliseconds(ms);
                    PriceQuote quote = calc.Reprice(_provider, _model, u, instant);
                    if (quote.Priced && quote.CostUsd < cheapest)
                    {
                        cheapest = quote.CostUsd;
                        window = inside
                            ? $"{constraint.StartTime}-{constraint.EndTime}"
                            : $"outside {constraint.StartTime}-{constraint.EndTime}";
                    }
                }
            }

            return (cheapest, window);
        }

        private static CatalogModel? BatchVariant(ResolvedModel resolved)
        {
            foreach (string suffix in new[] { ":batch", "-batch", ":flex", "-flex" })
            {
                string id = resolved.Model.Id + suffix;
                if (resolved.ModelProvider.Models.FirstOrDefault(m => string.Equals(m.Id, id, StringComparison.OrdinalIgnoreCase) && m.Rejected is null) is { } variant)
                {
                    return variant;
                }
            }

            return null;
        }
    }
}
