namespace LlmCost.Core.Alerts;

/// <summary>
/// A tenant's rule for one alert kind (optionally narrowed to one scope): whether it is on and its cooldown, i.e.
/// after an alert of this rule was delivered for a scope id, further alerts of the same kind for the same scope id
/// within the cooldown are recorded (visible in the feed as "suppressed") but not sent.
/// </summary>
public sealed record AlertRule
{
    public required string RuleId { get; init; }
    public required string TenantId { get; init; }
    public required string Kind { get; init; }

    /// <summary>null = any scope.</summary>
    public string? Scope { get; init; }

    public string? ScopeId { get; init; }
    public bool Enabled { get; init; } = true;
    public TimeSpan Cooldown { get; init; } = TimeSpan.FromHours(1);
    public required DateTimeOffset CreatedAt { get; init; }

    public bool Matches(Alert alert) =>
        string.Equals(alert.TenantId, TenantId, StringComparison.Ordinal)
        && string.Equals(alert.Kind, Kind, StringComparison.Ordinal)
        && (Scope is null || string.Equals(alert.Scope, Scope, StringComparison.Ordinal))
        && (ScopeId is null || string.Equals(alert.ScopeId, ScopeId, StringComparison.Ordinal));

    /// <summary>The key cooldowns are tracked under: one per (rule, scope, scope id).</summary>
    public string CooldownKey(Alert alert) => $"{RuleId}|{alert.Scope}|{alert.ScopeId}";
}

public enum RuleDecision
{
    /// <summary>No rule says otherwise: deliver.</summary>
    Deliver,

    /// <summary>A rule for this kind is disabled.</summary>
    Disabled,

    /// <summary>The same rule fired for the same scope id within its cooldown.</summary>
    CoolingDown,
}

public static class AlertRulePolicy
{
    /// <summary>
    /// The most specific matching rule decides (scope id &gt; scope &gt; kind). <paramref name="lastFired"/> gives the
    /// last delivery time per cooldown key. Re-deciding the SAME alert id is never cooled down by itself (it is a
    /// retry, not a new alert): callers pass the time of other alerts only.
    /// </summary>
    public static (RuleDecision Decision, AlertRule? Rule) Decide(
        Alert alert, IEnumerable<AlertRule> rules, Func<string, DateTimeOffset?> lastFired, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(alert);
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(lastFired);
        var rule = rules
            .Where(r => r.Matches(alert))
            .OrderByDescending(r => (r.ScopeId is null ? 0 : 2) + (r.Scope is null ? 0 : 1))
            .ThenBy(r => r.RuleId, StringComparer.Ordinal)
            .FirstOrDefault();
        if (rule is null)
        {
            return (RuleDecision.Deliver, null);
        }

        if (!rule.Enabled)
        {
            return (RuleDecision.Disabled, rule);
        }

        return lastFired(rule.CooldownKey(alert)) is { } last && now - last < rule.Cooldown
            ? (RuleDecision.CoolingDown, rule)
            : (RuleDecision.Deliver, rule);
    }
}
