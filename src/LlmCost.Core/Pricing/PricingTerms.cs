using System.Collections.Concurrent;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Pricing;

/// <summary>A catalog and the version name every event priced with it records.</summary>
public sealed record CatalogVersion(string Version, PriceCatalog Catalog)
{
    /// <summary>The catalog compiled into the assembly ("builtin:genai-prices@0.1.8").</summary>
    public static CatalogVersion BuiltIn { get; } = new($"builtin:{PriceCatalog.BuiltIn.Source}", PriceCatalog.BuiltIn);
}

/// <summary>The catalog in force on this instance (the built-in one, or the newest validated published one).</summary>
public interface ICatalogSource
{
    CatalogVersion Current { get; }
}

/// <summary>Always the same catalog (tests, the CLI, a deployment without published catalogs).</summary>
public sealed class FixedCatalogSource(CatalogVersion version) : ICatalogSource
{
    public CatalogVersion Current { get; } = version;
}

/// <summary>
/// The prices in force for one tenant at one instant: the catalog version, the tenant's policy version (null =
/// list prices) and an engine that applies both. <see cref="PricingEngine.PriceAs"/> prices a chosen candidate
/// with the same terms.
/// </summary>
public sealed record PricingTerms(PricingEngine Engine, string CatalogVersion, TenantPolicyVersion? Policy)
{
    /// <summary>The policy version that applies, or null when the tenant pays list prices.</summary>
    public int? PolicyVersion => Policy is { Deleted: false } p ? p.Version : null;

    public bool HasVolumeTiers => Policy?.Terms?.VolumeTiers.Count > 0;
}

/// <summary>The port for "the prices in force for tenant T at time t" (ingest, /api/price, budgets, advice).</summary>
public interface IPricingTermsSource
{
    /// <summary>From memory; may be up to the refresh interval old (see <see cref="EnsureFreshAsync"/>).</summary>
    PricingTerms For(string? tenantId, DateTimeOffset at);

    /// <summary>Reloads the policies when the cached copy is older than the refresh interval (or was invalidated).</summary>
    ValueTask EnsureFreshAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// Every tenant's policy history in memory, reloaded from <see cref="ITenantPolicyStore"/> when older than the
/// refresh interval (the store holds a few rows per tenant, so one query loads them all). A change made on this
/// instance invalidates the copy at once; other instances see it within the interval.
/// </summary>
public sealed class TenantPolicyCache : IPricingTermsSource
{
    private const int MaxEngines = 10_000;

    private readonly ITenantPolicyStore _store;
    private readonly ICatalogSource _catalogs;
    private readonly TimeProvider _time;
    private readonly TimeSpan _refresh;
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<(string Catalog, string? Tenant, int Version), PricingEngine> _engines = new();

    private volatile Snapshot? _snapshot;
    private Task? _loading;

    public TenantPolicyCache(ITenantPolicyStore store, ICatalogSource catalogs, TimeProvider time, TimeSpan refresh)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(catalogs);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(refresh, TimeSpan.Zero);
        _store = store;
        _catalogs = catalogs;
        _time = time;
        _refresh = refresh;
    }

    private sealed record Snapshot(IReadOnlyDictionary<string, TenantPolicyHistory> Tenants, DateTimeOffset LoadedAt, bool Stale = false);

    /// <summary>The catalog this instance prices with now.</summary>
    public CatalogVersion CatalogInForce => _catalogs.Current;

    public PricingTerms For(string? tenantId, DateTimeOffset at) => For(tenantId, at, _catalogs.Current);

    /// <summary>The tenant's policy in force at <paramref name="at"/> with a given catalog (repricing with a named version).</summary>
    public PricingTerms For(string? tenantId, DateTimeOffset at, CatalogVersion catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        Snapshot? snapshot = _snapshot;
        if (snapshot is null)
        {
            // Only until the first load: pricing a tenant at list price because its policy was not read yet would
            // be a silently wrong number.
            EnsureFreshAsync().AsTask().GetAwaiter().GetResult();
            snapshot = _snapshot!;
        }
        else if (IsOld(snapshot))
        {
            _ = RefreshInBackground();
        }

        TenantPolicyVersion? policy = tenantId is not null && snapshot.Tenants.TryGetValue(tenantId, out TenantPolicyHistory? history)
            ? history.InForceAt(at)
            : null;
        if (policy is not { Terms: { } terms })
        {
            return new PricingTerms(Engine(catalog, null, 0, null), catalog.Version, policy);
        }

        return new PricingTerms(Engine(catalog, tenantId, policy.Version, terms), catalog.Version, policy);
    }

    public ValueTask EnsureFreshAsync(CancellationToken cancellationToken = default)
    {
        Snapshot? snapshot = _snapshot;
        return snapshot is not null && !IsOld(snapshot) ? ValueTask.CompletedTask : new ValueTask(Load().WaitAsync(cancellationToken));
    }

    /// <summary>Forgets the copy: the next pricing that prepares (ingest, /api/price) reloads it.</summary>
    public void Invalidate(string tenantId)
    {
        if (_snapshot is { } snapshot)
        {
            _snapshot = snapshot with { Stale = true };
        }
    }

    private bool IsOld(Snapshot snapshot) => snapshot.Stale || _time.GetUtcNow() - snapshot.LoadedAt >= _refresh;

    private async Task RefreshInBackground()
    {
        try
        {
            await Load().ConfigureAwait(false);
        }
        catch (Exception) when (_snapshot is not null)
        {
            // Keep pricing with the last good copy while storage is unavailable; the next call tries again.
        }
    }

    private Task Load()
    {
        lock (_gate)
        {
            if (_loading is { IsCompleted: false } running)
            {
                return running;
            }

            // Started outside the lock's scope of work: a read that completes synchronously must not leave a
            // finished task in place of the next refresh.
            Task task = LoadCoreAsync();
            _loading = task;
            return task;
        }
    }

    private async Task LoadCoreAsync()
    {
        await Task.Yield();
        DateTimeOffset started = _time.GetUtcNow();
        IReadOnlyList<TenantPolicyHistory> all = await _store.ReadAllAsync().ConfigureAwait(false);
        _snapshot = new Snapshot(all.ToDictionary(h => h.TenantId, StringComparer.Ordinal), started);
    }

    private PricingEngine Engine(CatalogVersion catalog, string? tenantId, int version, TenantPricing? terms)
    {
        if (_engines.Count > MaxEngines)
        {
            _engines.Clear(); // only compiled engines: rebuilt on demand
        }

        return _engines.GetOrAdd((catalog.Version, tenantId, version), static (_, state) => state.Terms is null
            ? new PricingEngine(state.Catalog.Catalog)
            : new PricingEngine(state.Catalog.Catalog, new PricingPolicy { Tenants = new Dictionary<string, TenantPricing> { [state.Tenant!] = state.Terms } }),
            (Catalog: catalog, Tenant: tenantId, Terms: terms));
    }
}

/// <summary>
/// A tenant's month-to-date usage from the service's own hour buckets (tenant scope), cached per (tenant, month)
/// for the refresh interval: volume tiers select on it.
/// </summary>
public sealed class TenantMonthToDate(IUsageSummaryReader reader, TimeProvider time, TimeSpan refresh)
{
    private const int MaxCached = 50_000;

    private readonly ConcurrentDictionary<(string Tenant, DateOnly Month), Entry> _entries = new();

    private sealed record Entry(IReadOnlyList<(DateTimeOffset HourStart, decimal CostUsd, long Tokens)> Hours, DateTimeOffset LoadedAt);

    /// <summary>The cached figure (usage in hours that started at or before <paramref name="at"/>); null when never loaded.</summary>
    public MonthToDateUsage? TryGet(string tenantId, DateTimeOffset at)
    {
        if (!_entries.TryGetValue((tenantId, Month(at)), out Entry? entry))
        {
            return null;
        }

        decimal spend = 0m;
        long tokens = 0;
        foreach ((DateTimeOffset hour, decimal cost, long t) in entry.Hours)
        {
            if (hour <= at)
            {
                spend += cost;
                tokens += t;
            }
        }

        return new MonthToDateUsage(spend, tokens);
    }

    /// <summary>Reads the month's buckets when the cached copy is older than the refresh interval.</summary>
    public async ValueTask EnsureFreshAsync(string tenantId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        DateOnly month = Month(at);
        if (_entries.TryGetValue((tenantId, month), out Entry? entry) && time.GetUtcNow() - entry.LoadedAt < refresh)
        {
            return;
        }

        DateTimeOffset started = time.GetUtcNow();
        DateOnly last = month.AddMonths(1).AddDays(-1);
        DateOnly today = DateOnly.FromDateTime(started.UtcDateTime);
        IReadOnlyList<UsageBucket> buckets = await reader.ReadBucketsAsync(
            UsageScope.Tenant(tenantId), month, last < today ? last : (today < month ? month : today), cancellationToken).ConfigureAwait(false);
        if (_entries.Count > MaxCached)
        {
            _entries.Clear();
        }

        _entries[(tenantId, month)] = new Entry(
            buckets.Select(b => (b.HourStart, b.Totals.CostUsd, b.Totals.InputTokens + b.Totals.OutputTokens)).ToList(), started);
    }

    /// <summary>Forgets what is cached (repricing changed the figures).</summary>
    public void Invalidate(string tenantId)
    {
        foreach ((string Tenant, DateOnly Month) key in _entries.Keys)
        {
            if (key.Tenant == tenantId)
            {
                _entries.TryRemove(key, out _);
            }
        }
    }

    private static DateOnly Month(DateTimeOffset at) => new(at.UtcDateTime.Year, at.UtcDateTime.Month, 1);
}

/// <summary>
/// The one pricing entry point of the service (ingest, /api/price, budget authorisation and estimates): prices with
/// the catalog in force and the tenant's policy in force at the call's timestamp, with the tenant's month-to-date
/// usage for volume tiers, and says which catalog and policy version priced the call.
/// </summary>
public sealed class TenantAwarePriceCalculator(IPricingTermsSource terms, TenantMonthToDate? monthToDate = null) : IPriceCalculator
{
    public PriceQuote Price(PriceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        PricingTerms t = terms.For(request.TenantId, request.Timestamp);
        if (request.MonthToDate is null && t.HasVolumeTiers && monthToDate is not null && request.TenantId is not null)
        {
            // Unprepared callers (budget estimates) use the cached figure; without one no tier applies, which
            // can only make an estimate higher, never lower.
            request = request with { MonthToDate = monthToDate.TryGet(request.TenantId, request.Timestamp) };
        }

        PriceQuote quote = t.Engine.Price(request);
        return quote with { CatalogVersion = t.CatalogVersion, PolicyVersion = t.PolicyVersion };
    }

    public async ValueTask PrepareAsync(string? tenantId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await terms.EnsureFreshAsync(cancellationToken).ConfigureAwait(false);
        if (tenantId is not null && monthToDate is not null && terms.For(tenantId, at).HasVolumeTiers)
        {
            await monthToDate.EnsureFreshAsync(tenantId, at, cancellationToken).ConfigureAwait(false);
        }
    }
}
