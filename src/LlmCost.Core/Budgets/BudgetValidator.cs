using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Budgets;

/// <summary>A budget as the caller sent it: raw values, validated by <see cref="BudgetValidator"/>.</summary>
public sealed record BudgetDraft
{
    public string? TenantId { get; init; }
    public string? Scope { get; init; }
    public string? ScopeId { get; init; }
    public string? Name { get; init; }
    public string? AmountUsd { get; init; }
    public string? TokenLimit { get; init; }
    public string? Period { get; init; }
    public string? Alignment { get; init; }
    public string? TimeZone { get; init; }
    public string? Mode { get; init; }
    public IReadOnlyList<string>? Thresholds { get; init; }
    public bool? AlertOnProjectedOverrun { get; init; }
    public CircuitBreakerDraft? CircuitBreaker { get; init; }
    public string? Profile { get; init; }
}

public sealed record CircuitBreakerDraft
{
    public string? WindowSeconds { get; init; }
    public string? Multiple { get; init; }
    public string? NormalUsdPerWindow { get; init; }
    public string? MinimumWindowSpendUsd { get; init; }
    public string? CooldownSeconds { get; init; }
}

public static class BudgetValidator
{
    public const decimal MaxAmountUsd = 1_000_000_000m;

    /// <summary>Validates a draft into a definition; <paramref name="existing"/> keeps id and creation time on update.</summary>
    public static Validated<BudgetDefinition> Validate(BudgetDraft draft, string budgetId, DateTimeOffset now, string actor, BudgetDefinition? existing = null)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        void Error(string field, string message) => errors[field] = [message];

        var tenantId = draft.TenantId;
        if (!IsValidId(tenantId))
        {
            Error("tenant_id", $"tenant_id {IdProblem(tenantId)}.");
        }
        else if (existing is not null && existing.TenantId != tenantId)
        {
            Error("tenant_id", "tenant_id of a budget cannot change.");
        }

        if (!BudgetNames.TryParse(draft.Scope, out BudgetScope scope))
        {
            Error("scope", "scope must be one of tenant, team, user, key.");
        }

        var scopeId = draft.ScopeId;
        if (scope == BudgetScope.Tenant && string.IsNullOrEmpty(scopeId))
        {
            scopeId = tenantId;
        }

        if (!IsValidId(scopeId))
        {
            Error("scope_id", $"scope_id {IdProblem(scopeId)} (\"*\" is the user budget every user inherits).");
        }
        else if (scopeId == BudgetDefinition.EveryUser && scope != BudgetScope.User)
        {
            Error("scope_id", "\"*\" is only allowed for scope user (the budget every user without one inherits).");
        }

        decimal? amount = null;
        long? tokens = null;
        if (draft.AmountUsd is not null && draft.TokenLimit is not null)
        {
            Error("amount_usd", "Give either amount_usd or token_limit, not both.");
        }
        else if (draft.AmountUsd is not null)
        {
            if (!decimal.TryParse(draft.AmountUsd, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var parsed)
                || parsed <= 0m || parsed > MaxAmountUsd)
            {
                Error("amount_usd", "amount_usd must be a positive decimal string (e.g. \"10.00\") up to 1000000000.");
            }
            else
            {
                amount = parsed;
            }
        }
        else if (draft.TokenLimit is not null)
        {
            if (!long.TryParse(draft.TokenLimit, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed <= 0)
            {
                Error("token_limit", "token_limit must be a positive integer.");
            }
            else
            {
                tokens = parsed;
            }
        }
        else
        {
            Error("amount_usd", "amount_usd (or token_limit) is required.");
        }

        if (!BudgetNames.TryParse(draft.Period, out BudgetPeriod period))
        {
            Error("period", "period must be one of per_request, hourly, daily, weekly, monthly, yearly.");
        }

        var alignment = PeriodAlignment.Calendar;
        if (draft.Alignment is not null && !BudgetNames.TryParse(draft.Alignment, out alignment))
        {
            Error("alignment", "alignment must be calendar or rolling.");
        }

        var timeZone = draft.TimeZone ?? "UTC";
        if (!BudgetPeriodCalculator.IsKnownZone(timeZone))
        {
            Error("timezone", $"timezone must be an IANA time zone id (e.g. \"Europe/Berlin\").");
        }

        if (!BudgetNames.TryParse(draft.Mode, out BudgetMode mode))
        {
            Error("mode", "mode must be hard, soft or adaptive.");
        }
        else if (mode == BudgetMode.Adaptive && tokens is not null)
        {
            Error("mode", "adaptive needs amount_usd: a cheaper model does not use fewer tokens.");
        }

        var thresholds = BudgetDefinition.DefaultThresholds;
        if (draft.Thresholds is not null)
        {
            var parsed = new List<decimal>();
            foreach (var text in draft.Thresholds)
            {
                if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value <= 0m || value > 1000m)
                {
                    Error("thresholds", "thresholds must be percentages above 0 and at most 1000 (e.g. [\"50\",\"90\"]).");
                    break;
                }

                parsed.Add(value);
            }

            thresholds = parsed.Distinct().Order().ToList();
            if (thresholds.Count > LedgerLimits.MaxThresholds)
            {
                // Every fired threshold is kept in the period state row: bounded by design.
                Error("thresholds", $"at most {LedgerLimits.MaxThresholds} thresholds per budget.");
            }
        }

        CircuitBreakerSettings? breaker = null;
        if (draft.CircuitBreaker is { } cb)
        {
            breaker = ValidateBreaker(cb, Error);
        }

        if (errors.Count > 0)
        {
            return Validated<BudgetDefinition>.Fail(errors);
        }

        return Validated<BudgetDefinition>.Ok(new BudgetDefinition
        {
            BudgetId = budgetId,
            TenantId = tenantId!,
            Scope = scope,
            ScopeId = scopeId!,
            Name = draft.Name,
            AmountUsd = amount,
            TokenLimit = tokens,
            Period = period,
            Alignment = alignment,
            TimeZone = timeZone,
            Mode = mode,
            ThresholdPercents = thresholds,
            AlertOnProjectedOverrun = draft.AlertOnProjectedOverrun ?? true,
            CircuitBreaker = breaker,
            Profile = draft.Profile ?? existing?.Profile,
            CreatedAt = existing?.CreatedAt ?? now,
            UpdatedAt = now,
            UpdatedBy = actor,
        });
    }

    private static CircuitBreakerSettings? ValidateBreaker(CircuitBreakerDraft cb, Action<string, string> error)
    {
        static bool Positive(string? text, out decimal value) =>
            decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value) && value > 0m;

        if (!Positive(cb.WindowSeconds, out var window) || window > 86_400m)
        {
            error("circuit_breaker.window_seconds", "window_seconds must be a positive number of seconds up to 86400.");
            return null;
        }

        if (!Positive(cb.Multiple, out var multiple))
        {
            error("circuit_breaker.multiple", "multiple must be a positive number (e.g. \"10\").");
            return null;
        }

        decimal? normal = null;
        if (cb.NormalUsdPerWindow is not null)
        {
            if (!Positive(cb.NormalUsdPerWindow, out var n))
            {
                error("circuit_breaker.normal_usd_per_window", "normal_usd_per_window must be a positive decimal string.");
                return null;
            }

            normal = n;
        }

        var minimum = 0m;
        if (cb.MinimumWindowSpendUsd is not null && !decimal.TryParse(cb.MinimumWindowSpendUsd, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out minimum))
        {
            error("circuit_breaker.minimum_window_spend_usd", "minimum_window_spend_usd must be a decimal string.");
            return null;
        }

        var cooldown = 900m;
        if (cb.CooldownSeconds is not null && !Positive(cb.CooldownSeconds, out cooldown))
        {
            error("circuit_breaker.cooldown_seconds", "cooldown_seconds must be a positive number of seconds.");
            return null;
        }

        return new CircuitBreakerSettings
        {
            Window = TimeSpan.FromSeconds((double)window),
            Multiple = multiple,
            NormalUsdPerWindow = normal,
            MinimumWindowSpendUsd = minimum,
            Cooldown = TimeSpan.FromSeconds((double)cooldown),
        };
    }

    /// <summary>The same id rule as recorded usage (<see cref="RecordKeys"/>), so budget scopes match event ids exactly.</summary>
    public static bool IsValidId(string? id) => RecordKeys.Problem(id) is null;

    /// <summary>Why <paramref name="id"/> is not a valid id, or null.</summary>
    public static string? IdProblem(string? id) => RecordKeys.Problem(id);

    /// <summary>Budget ids carry their tenant (base64url) so a budget is found from its id alone.</summary>
    public static string NewBudgetId(string tenantId)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        return BudgetIdPrefix(tenantId) + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    }

    /// <summary>"bgt.{base64url(tenant)}." — every budget id of the tenant starts with it.</summary>
    public static string BudgetIdPrefix(string tenantId)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        return $"bgt.{Base64Url(Encoding.UTF8.GetBytes(tenantId))}.";
    }

    public static bool TryGetTenant(string budgetId, out string tenantId)
    {
        tenantId = string.Empty;
        var parts = budgetId?.Split('.') ?? [];
        if (parts.Length != 3 || parts[0] != "bgt")
        {
            return false;
        }

        try
        {
            var text = parts[1].Replace('-', '+').Replace('_', '/');
            text = text.PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '=');
            tenantId = Encoding.UTF8.GetString(Convert.FromBase64String(text));
            return IsValidId(tenantId);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// A reservation id, "rsv_" + the UTC day it was made (yyyyMMdd) + 24 hex digits: random, or derived from the
    /// caller's request id so a retried authorisation finds its reservation. The day makes reservation rows sort by
    /// age, so closed ones are pruned by a key range.
    /// </summary>
    public static string NewReservationId(string tenantId, string userId, string? requestId, DateTimeOffset now)
    {
        var day = now.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        if (requestId is null)
        {
            return $"rsv_{day}{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12))}";
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{tenantId}\n{userId}\n{requestId}"));
        return $"rsv_{day}{Convert.ToHexStringLower(hash.AsSpan(0, 12))}";
    }

    /// <summary>Ids a retry of <paramref name="requestId"/> may already hold: made today or the previous UTC day.</summary>
    public static IReadOnlyList<string> ReplayReservationIds(string tenantId, string userId, string requestId, DateTimeOffset now) =>
        [NewReservationId(tenantId, userId, requestId, now), NewReservationId(tenantId, userId, requestId, now.AddDays(-1))];

    /// <summary>Whether <paramref name="id"/> has the shape of a reservation id this service issues.</summary>
    public static bool IsReservationId(string? id) =>
        id is { Length: 36 } && id.StartsWith("rsv_", StringComparison.Ordinal)
        && id.AsSpan(4, 8).ContainsAnyExcept("0123456789") is false
        && id.AsSpan(12).ContainsAnyExcept("0123456789abcdef") is false;

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
