namespace LlmCost.Core.Budgets;

/// <summary>Who a budget limits.</summary>
public enum BudgetScope
{
    Tenant,
    Team,
    User,
    Key,
}

/// <summary>How long one budget period lasts. <see cref="PerRequest"/> limits each request alone (no running total).</summary>
public enum BudgetPeriod
{
    PerRequest,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// <summary>
/// Calendar periods start at local midnight / the first of the month / Monday in the budget's time zone; rolling
/// periods are anchored at the budget's creation instant (every 24 h from then, or the same day of the month).
/// </summary>
public enum PeriodAlignment
{
    Calendar,
    Rolling,
}

/// <summary>Hard denies what would exceed; soft allows and alerts; adaptive answers with a cheaper model that fits.</summary>
public enum BudgetMode
{
    Hard,
    Soft,
    Adaptive,
}

/// <summary>
/// Trips when spend in one short window exceeds <see cref="Multiple"/> times the normal spend per window: the
/// configured <see cref="NormalUsdPerWindow"/>, else the average per window of the period so far.
/// </summary>
public sealed record CircuitBreakerSettings
{
    public required TimeSpan Window { get; init; }
    public required decimal Multiple { get; init; }
    public decimal? NormalUsdPerWindow { get; init; }

    /// <summary>A window below this spend never trips (a few cents are not an emergency).</summary>
    public decimal MinimumWindowSpendUsd { get; init; }

    public TimeSpan Cooldown { get; init; } = TimeSpan.FromMinutes(15);
}

/// <summary>One budget. Exactly one of <see cref="AmountUsd"/> and <see cref="TokenLimit"/> is set.</summary>
public sealed record BudgetDefinition
{
    /// <summary><see cref="ScopeId"/> of a user budget that applies to every user without a budget of their own.</summary>
    public const string EveryUser = "*";

    public static IReadOnlyList<decimal> DefaultThresholds { get; } = [50m, 75m, 90m, 100m];

    public required string BudgetId { get; init; }
    public required string TenantId { get; init; }
    public required BudgetScope Scope { get; init; }
    public required string ScopeId { get; init; }
    public string? Name { get; init; }
    public decimal? AmountUsd { get; init; }
    public long? TokenLimit { get; init; }
    public required BudgetPeriod Period { get; init; }
    public PeriodAlignment Alignment { get; init; } = PeriodAlignment.Calendar;

    /// <summary>IANA time zone id for calendar periods and monthly/yearly rolling periods.</summary>
    public string TimeZone { get; init; } = "UTC";

    public required BudgetMode Mode { get; init; }

    /// <summary>Percentages of the limit at which an alert fires once per period.</summary>
    public IReadOnlyList<decimal> ThresholdPercents { get; init; } = DefaultThresholds;

    public bool AlertOnProjectedOverrun { get; init; } = true;
    public CircuitBreakerSettings? CircuitBreaker { get; init; }

    /// <summary>The profile this budget was created from (development / production / enterprise), if any.</summary>
    public string? Profile { get; init; }

    /// <summary>Also the anchor of rolling periods.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }
    public string? UpdatedBy { get; init; }

    public bool IsUsd => AmountUsd is not null;
    public bool IsStateful => Period != BudgetPeriod.PerRequest;
    public bool AppliesToEveryUser => Scope == BudgetScope.User && ScopeId == EveryUser;

    /// <summary>Whose running total a request of <paramref name="userId"/> counts against for this budget.</summary>
    public string SubjectFor(string userId) => AppliesToEveryUser ? userId : ScopeId;
}

/// <summary>An emergency stop on a tenant, team or user: every request in it is denied until lifted.</summary>
public sealed record FreezeRecord(
    string TenantId,
    BudgetScope Scope,
    string ScopeId,
    DateTimeOffset FrozenAt,
    string FrozenBy,
    string? Reason);

/// <summary>Wire names of the budget enums (snake case, lower).</summary>
public static class BudgetNames
{
    public static string Of(BudgetScope value) => value.ToString().ToLowerInvariant();
    public static string Of(BudgetMode value) => value.ToString().ToLowerInvariant();
    public static string Of(PeriodAlignment value) => value.ToString().ToLowerInvariant();

    public static string Of(BudgetPeriod value) => value == BudgetPeriod.PerRequest ? "per_request" : value.ToString().ToLowerInvariant();

    public static bool TryParse(string? text, out BudgetScope value) => TryParseEnum(text, out value);
    public static bool TryParse(string? text, out BudgetMode value) => TryParseEnum(text, out value);
    public static bool TryParse(string? text, out PeriodAlignment value) => TryParseEnum(text, out value);

    public static bool TryParse(string? text, out BudgetPeriod value) =>
        TryParseEnum(text?.Replace("_", string.Empty, StringComparison.Ordinal).Replace("-", string.Empty, StringComparison.Ordinal), out value);

    private static bool TryParseEnum<T>(string? text, out T value)
        where T : struct, Enum
    {
        value = default;
        // Enum.TryParse accepts numbers ("7"); a wire value must be a name.
        return !string.IsNullOrWhiteSpace(text)
            && !char.IsAsciiDigit(text[0])
            && text[0] != '-'
            && Enum.TryParse(text, ignoreCase: true, out value)
            && Enum.IsDefined(value);
    }
}
