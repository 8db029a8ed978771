using System.Globalization;

namespace LlmCost.Core.Budgets;

/// <summary>
/// The raw <c>LlmCost:Budgets:Defaults</c> settings, as the deployment writes them (infra-bicep/main.bicep:
/// <c>MonthlyLimitUsd</c> a decimal string, <c>AlertThresholdsPercent</c> "50,80,100", <c>Enforcement</c>
/// hard/soft/adaptive). Strings on purpose: a bad value must fail start-up naming the setting, not bind to 0.
/// </summary>
public sealed class BudgetDefaultsOptions
{
    public const string Section = "LlmCost:Budgets:Defaults";

    public string? MonthlyLimitUsd { get; set; }

    /// <summary>Comma-separated percentages (1..1000); absent or empty = the standard 50/75/90/100.</summary>
    public string? AlertThresholdsPercent { get; set; }

    /// <summary>hard, soft or adaptive; absent = soft (the template's default).</summary>
    public string? Enforcement { get; set; }

    /// <summary>
    /// The validated default, null when none is configured (limit absent, empty or 0). Throws
    /// <see cref="InvalidOperationException"/> naming the setting when a value is invalid, so the host does not
    /// start silently without the budget the deployer asked for.
    /// </summary>
    public DefaultMonthlyBudget? Resolve()
    {
        if (string.IsNullOrWhiteSpace(MonthlyLimitUsd))
        {
            return null;
        }

        if (!decimal.TryParse(MonthlyLimitUsd, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var limit) || limit < 0)
        {
            throw new InvalidOperationException($"{Section}:MonthlyLimitUsd must be a non-negative decimal number of USD (e.g. \"1000\" or \"12.50\"); got \"{MonthlyLimitUsd}\".");
        }

        if (limit == 0)
        {
            return null;
        }

        var mode = BudgetMode.Soft;
        if (!string.IsNullOrWhiteSpace(Enforcement) && !BudgetNames.TryParse(Enforcement.Trim(), out mode))
        {
            throw new InvalidOperationException($"{Section}:Enforcement must be hard, soft or adaptive; got \"{Enforcement}\".");
        }

        var thresholds = BudgetDefinition.DefaultThresholds;
        if (!string.IsNullOrWhiteSpace(AlertThresholdsPercent))
        {
            var parsed = new List<decimal>();
            foreach (var part in AlertThresholdsPercent.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!decimal.TryParse(part, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var percent) || percent < 1 || percent > 1000)
                {
                    throw new InvalidOperationException($"{Section}:AlertThresholdsPercent must be comma-separated percentages from 1 to 1000 (e.g. \"50,80,100\"); got \"{AlertThresholdsPercent}\".");
                }

                parsed.Add(percent);
            }

            thresholds = parsed.Distinct().Order().ToList();
        }

        return new DefaultMonthlyBudget(limit, mode, thresholds);
    }
}

/// <summary>
/// The configured default: an implicit every-user monthly (calendar, UTC) budget of every tenant that has no
/// every-user budget of its own. It is never stored; it has a stable id per tenant so its period states,
/// reservations and alerts live in the ledger exactly like a stored every-user budget's.
/// </summary>
public sealed record DefaultMonthlyBudget(decimal AmountUsd, BudgetMode Mode, IReadOnlyList<decimal> ThresholdPercents)
{
    public const string IdSuffix = "default-monthly";

    /// <summary>Shaped like a stored budget id (<c>bgt.{tenant}.{suffix}</c>) so lookups by id find the tenant.</summary>
    public static string IdFor(string tenantId) => BudgetValidator.BudgetIdPrefix(tenantId) + IdSuffix;

    public BudgetDefinition For(string tenantId) => new()
    {
        BudgetId = IdFor(tenantId),
        TenantId = tenantId,
        Scope = BudgetScope.User,
        ScopeId = BudgetDefinition.EveryUser,
        Name = "default monthly",
        AmountUsd = AmountUsd,
        Period = BudgetPeriod.Monthly,
        Alignment = PeriodAlignment.Calendar,
        TimeZone = "UTC",
        Mode = Mode,
        ThresholdPercents = ThresholdPercents,
        Profile = "default",
        // Calendar periods ignore the anchor; a fixed one keeps the definition identical on every instance.
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
        UpdatedBy = "configuration",
    };

    /// <summary>The tenant's stored budgets plus the default when the tenant has no every-user budget.</summary>
    public IReadOnlyList<BudgetDefinition> AddTo(IReadOnlyList<BudgetDefinition> stored, string tenantId)
    {
        ArgumentNullException.ThrowIfNull(stored);
        return stored.Any(b => b.AppliesToEveryUser) ? stored : [.. stored, For(tenantId)];
    }
}
