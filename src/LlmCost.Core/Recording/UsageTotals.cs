namespace LlmCost.Core.Recording;

/// <summary>
/// Additive totals of a set of events (a day, an hour bucket, a query period). Costs stay exact decimals;
/// unpriced events are counted so that "nothing is silently zero" holds in every aggregate.
/// </summary>
public sealed record UsageTotals
{
    public long Events { get; init; }
    public decimal CostUsd { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    public long CacheReadTokens { get; init; }
    public long CacheWriteTokens { get; init; }
    public long ReasoningTokens { get; init; }
    public long UnpricedEvents { get; init; }
    public long ErrorEvents { get; init; }

    /// <summary>Sum of latencies of the events that reported one (<see cref="LatencyEvents"/>).</summary>
    public long LatencyMsTotal { get; init; }

    public long LatencyEvents { get; init; }

    public static UsageTotals Zero { get; } = new();

    public static UsageTotals Of(UsageEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new UsageTotals
        {
            Events = 1,
            CostUsd = e.CostUsd,
            InputTokens = e.Usage.InputTokens,
            OutputTokens = e.Usage.OutputTokens,
            CacheReadTokens = e.Usage.CacheReadTokens,
            CacheWriteTokens = e.Usage.CacheWriteTokens,
            ReasoningTokens = e.Usage.ReasoningTokens,
            UnpricedEvents = e.Priced ? 0 : 1,
            ErrorEvents = e.Succeeded ? 0 : 1,
            LatencyMsTotal = e.LatencyMs ?? 0,
            LatencyEvents = e.LatencyMs is null ? 0 : 1,
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
            InputTokens = checked(a.InputTokens + b.InputTokens),
            OutputTokens = checked(a.OutputTokens + b.OutputTokens),
            CacheReadTokens = checked(a.CacheReadTokens + b.CacheReadTokens),
            CacheWriteTokens = checked(a.CacheWriteTokens + b.CacheWriteTokens),
            ReasoningTokens = checked(a.ReasoningTokens + b.ReasoningTokens),
            UnpricedEvents = checked(a.UnpricedEvents + b.UnpricedEvents),
            ErrorEvents = checked(a.ErrorEvents + b.ErrorEvents),
            LatencyMsTotal = checked(a.LatencyMsTotal + b.LatencyMsTotal),
            LatencyEvents = checked(a.LatencyEvents + b.LatencyEvents),
        };
    }

    public UsageTotals Add(UsageTotals other) => this + other;
}

/// <summary>
/// The finest stored aggregate: one user's events of one UTC hour for one (team, provider, model).
/// Every summary query (hour/day/month, by provider/model, for a user, team or tenant) is a sum of these.
/// </summary>
public sealed record UsageBucket(
    string TenantId,
    string UserId,
    string? TeamId,
    DateTimeOffset HourStart,
    string Provider,
    string Model,
    UsageTotals Totals);

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
