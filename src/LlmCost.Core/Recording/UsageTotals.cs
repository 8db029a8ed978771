using LlmCost.Core.Usage;

namespace LlmCost.Core.Recording;

/// <summary>
/// Additive totals of a set of events (a day, an hour bucket, a query period). Costs stay exact decimals;
/// unpriced events are counted so that "nothing is silently zero" holds in every aggregate.
/// </summary>
/// <remarks>
/// <see cref="Units"/> sums every usage unit of the lattice (requests are not in it: <see cref="Events"/> counts
/// the calls); the token properties are views of it, kept for the readers that use them. The reported-cost sums
/// compare a provider's own figure with ours: <see cref="ReportedCostDifferenceUsd"/> and
/// <see cref="ReportedCostComparedUsd"/> cover only PRICED events that reported a cost (an unpriced event has no
/// cost of ours to compare).
/// </remarks>
public sealed record UsageTotals
{
    private static readonly Pricing.UsageUnit s_requests = Pricing.UsageUnits.Get("requests");
    private CanonicalUsage _units = CanonicalUsage.None;

    public long Events { get; init; }
    public decimal CostUsd { get; init; }

    /// <summary>Every unit's total (no requests: see <see cref="Events"/>).</summary>
    public CanonicalUsage Units { get => _units; init => _units = value ?? CanonicalUsage.None; }

    public long InputTokens { get => _units.InputTokens; init => _units = _units.With(Pricing.UsageUnits.Get(Pricing.UsageUnits.InputTokens), value); }
    public long OutputTokens { get => _units.OutputTokens; init => _units = _units.With(Pricing.UsageUnits.Get(Pricing.UsageUnits.OutputTokens), value); }
    public long CacheReadTokens { get => _units.CacheReadTokens; init => _units = _units.With(Pricing.UsageUnits.Get(Pricing.UsageUnits.CacheReadTokens), value); }
    public long CacheWriteTokens { get => _units.CacheWriteTokens; init => _units = _units.With(Pricing.UsageUnits.Get(Pricing.UsageUnits.CacheWriteTokens), value); }
    public long ReasoningTokens { get => _units.ReasoningTokens; init => _units = _units.With(Pricing.UsageUnits.Get(Pricing.UsageUnits.OutputReasoningTokens), value); }
    public long UnpricedEvents { get; init; }
    public long ErrorEvents { get; init; }

    /// <summary>Sum of latencies of the events that reported one (<see cref="LatencyEvents"/>).</summary>
    public long LatencyMsTotal { get; init; }

    public long LatencyEvents { get; init; }

    /// <summary>Events that carried a provider-reported cost.</summary>
    public long ReportedCostEvents { get; init; }

    /// <summary>Sum of the provider-reported costs of those events.</summary>
    public decimal ReportedCostUsd { get; init; }

    /// <summary>Sum of (reported − our cost) over priced events that reported a cost.</summary>
    public decimal ReportedCostDifferenceUsd { get; init; }

    /// <summary>Our cost of the same events (the base of a relative difference).</summary>
    public decimal ReportedCostComparedUsd { get; init; }

    public static UsageTotals Zero { get; } = new();

    public static UsageTotals Of(UsageEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        bool compared = e.Priced && e.ReportedCostUsd is not null;
        return new UsageTotals
        {
            Events = 1,
            CostUsd = e.CostUsd,
            Units = e.Usage.Requests == 0 ? e.Usage : e.Usage.With(s_requests, 0),
            UnpricedEvents = e.Priced ? 0 : 1,
            ErrorEvents = e.Succeeded ? 0 : 1,
            LatencyMsTotal = e.LatencyMs ?? 0,
            LatencyEvents = e.LatencyMs is null ? 0 : 1,
            ReportedCostEvents = e.ReportedCostUsd is null ? 0 : 1,
            ReportedCostUsd = e.ReportedCostUsd ?? 0m,
            ReportedCostDifferenceUsd = compared ? e.ReportedCostUsd!.Value - e.CostUsd : 0m,
            ReportedCostComparedUsd = compared ? e.CostUsd : 0m,
        };
    }

    public static UsageTotals operator +(UsageTotals a, UsageTotals b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new UsageTotals
        {
            Events = checked(a.Events + b.Events),
            CostUsd = a.CostUsd + b.CostUsd,
            Units = a.Units + b.Units,
            UnpricedEvents = checked(a.UnpricedEvents + b.UnpricedEvents),
            ErrorEvents = checked(a.ErrorEvents + b.ErrorEvents),
            LatencyMsTotal = checked(a.LatencyMsTotal + b.LatencyMsTotal),
            LatencyEvents = checked(a.LatencyEvents + b.LatencyEvents),
            ReportedCostEvents = checked(a.ReportedCostEvents + b.ReportedCostEvents),
            ReportedCostUsd = a.ReportedCostUsd + b.ReportedCostUsd,
            ReportedCostDifferenceUsd = a.ReportedCostDifferenceUsd + b.ReportedCostDifferenceUsd,
            ReportedCostComparedUsd = a.ReportedCostComparedUsd + b.ReportedCostComparedUsd,
        };
    }

    public UsageTotals Add(UsageTotals other) => this + other;

    /// <summary>
    /// Takes <paramref name="part"/> out of a sum that contains it (a stored aggregate losing one of its rows' old
    /// values). A part larger than the sum means the aggregate was not the sum it claims: that throws, never stores
    /// a negative count.
    /// </summary>
    public UsageTotals Without(UsageTotals part)
    {
        ArgumentNullException.ThrowIfNull(part);
        var units = new CanonicalUsage.Builder().Set(s_requests, 0);
        foreach ((Pricing.UsageUnit unit, long count) in Units.Units)
        {
            units.Add(unit, count);
        }

        foreach ((Pricing.UsageUnit unit, long count) in part.Units.Units)
        {
            units.Add(unit, -count);
        }

        CanonicalUsage remaining = units.Build();
        var result = new UsageTotals
        {
            Events = checked(Events - part.Events),
            CostUsd = CostUsd - part.CostUsd,
            Units = remaining,
            UnpricedEvents = checked(UnpricedEvents - part.UnpricedEvents),
            ErrorEvents = checked(ErrorEvents - part.ErrorEvents),
            LatencyMsTotal = checked(LatencyMsTotal - part.LatencyMsTotal),
            LatencyEvents = checked(LatencyEvents - part.LatencyEvents),
            ReportedCostEvents = checked(ReportedCostEvents - part.ReportedCostEvents),
            ReportedCostUsd = ReportedCostUsd - part.ReportedCostUsd,
            ReportedCostDifferenceUsd = ReportedCostDifferenceUsd - part.ReportedCostDifferenceUsd,
            ReportedCostComparedUsd = ReportedCostComparedUsd - part.ReportedCostComparedUsd,
        };
        foreach ((Pricing.UsageUnit _, long count) in remaining.Units)
        {
            if (count < 0)
            {
                throw new InvalidOperationException("the part is not contained in the sum");
            }
        }

        return result.Events < 0 || result.UnpricedEvents < 0 || result.ErrorEvents < 0 || result.LatencyEvents < 0 || result.ReportedCostEvents < 0
            ? throw new InvalidOperationException("the part is not contained in the sum")
            : result;
    }
}

/// <summary>
/// The finest stored aggregate: one user's events of one UTC hour for one (team, provider, model).
/// Every summary query (hour/day/month, by provider/model, for a user, team or tenant) is a sum of these.
/// </summary>
/// <remarks>
/// The summaries keep no app or key; a bucket made of one event (<see cref="OfEvent"/>) carries them, with the
/// event's own instant as <see cref="HourStart"/>: what breakdowns by app or key are summed from.
/// </remarks>
public sealed record UsageBucket(
    string TenantId,
    string UserId,
    string? TeamId,
    DateTimeOffset HourStart,
    string Provider,
    string Model,
    UsageTotals Totals,
    string? App = null,
    string? KeyId = null)
{
    public static UsageBucket OfEvent(UsageEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new UsageBucket(e.TenantId, e.UserId, e.TeamId, e.Timestamp, e.Provider, e.Model, UsageTotals.Of(e),
            string.IsNullOrEmpty(e.App) ? null : e.App, e.KeyId);
    }

    /// <summary>Events summed per UTC hour and (user, team, provider, model, app, key): hour buckets that keep app and key.</summary>
    public static IReadOnlyList<UsageBucket> HoursOf(IEnumerable<UsageEvent> events) =>
        events
            .Select(OfEvent)
            .GroupBy(b => (b.TenantId, b.UserId, b.TeamId, Hour: UsageQuery.PeriodStart(b.HourStart, UsageGranularity.Hour), b.Provider, b.Model, b.App, b.KeyId))
            .Select(g => new UsageBucket(g.Key.TenantId, g.Key.UserId, g.Key.TeamId, g.Key.Hour, g.Key.Provider, g.Key.Model,
                g.Aggregate(UsageTotals.Zero, (sum, b) => sum + b.Totals), g.Key.App, g.Key.KeyId))
            .ToList();
}

/// <summary>The day summary row of one user: totals of every event in the partition.</summary>
public sealed record DaySummary(string TenantId, string UserId, DateOnly Day, UsageTotals Totals);

/// <summary>Whose usage a query is about.</summary>
public enum UsageScopeKind
{
    User,
    Team,
    Tenant,
}

public readonly record struct UsageScope(UsageScopeKind Kind, string TenantId, string? Id)
{
    public static UsageScope User(string tenantId, string userId) => new(UsageScopeKind.User, tenantId, userId);

    public static UsageScope Team(string tenantId, string teamId) => new(UsageScopeKind.Team, tenantId, teamId);

    public static UsageScope Tenant(string tenantId) => new(UsageScopeKind.Tenant, tenantId, null);
}

/// <summary>A (tenant, user, UTC day) event partition.</summary>
public readonly record struct UserDay(string TenantId, string UserId, DateOnly Day);
