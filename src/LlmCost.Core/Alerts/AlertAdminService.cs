namespace LlmCost.Core.Alerts;

/// <summary>An alert rule as a caller asks for it, before validation (the tenant comes from the caller's access).</summary>
public sealed record AlertRuleDraft(string? Kind, string? Scope, string? ScopeId, bool? Enabled, int? CooldownMinutes)
{
    public const int MaxCooldownMinutes = 60 * 24 * 31;

    /// <summary>Every problem, keyed by wire field; empty when the draft makes a rule.</summary>
    public Validated<AlertRuleDraft> Validate()
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (Kind is null || !SubscriptionValidator.AllKinds.Contains(Kind))
        {
            errors["kind"] = [$"kind must be one of {string.Join(", ", SubscriptionValidator.AllKinds.Order(StringComparer.Ordinal))}"];
        }

        if (Scope is not (null or "tenant" or "team" or "user" or "key"))
        {
            errors["scope"] = ["scope must be tenant, team, user or key"];
        }

        if (ScopeId is not null && Scope is null)
        {
            errors["scope_id"] = ["scope_id needs a scope"];
        }

        if (CooldownMinutes is < 0 or > MaxCooldownMinutes)
        {
            errors["cooldown_minutes"] = [$"cooldown_minutes must be between 0 and {MaxCooldownMinutes}"];
        }

        return errors.Count == 0 ? Validated<AlertRuleDraft>.Ok(this) : Validated<AlertRuleDraft>.Fail(errors);
    }
}

/// <summary>
/// Managing a tenant's alert rules and subscriptions: validated drafts in, ids minted here, stored through the ports.
/// Access (which tenant, which scope) is the caller's business and is checked before.
/// </summary>
public sealed class AlertAdminService(IAlertRuleStore rules, ISubscriptionStore subscriptions, TimeProvider time)
{
    public async Task<AlertRule> CreateRuleAsync(string tenantId, AlertRuleDraft draft, CancellationToken cancellationToken = default)
    {
        var rule = ToRule(NewId("rule_"), tenantId, Valid(draft), time.GetUtcNow());
        await rules.UpsertAsync(rule, cancellationToken).ConfigureAwait(false);
        return rule;
    }

    /// <summary>Replaces a rule, keeping its creation time; null when the tenant has no such rule.</summary>
    public async Task<AlertRule?> UpdateRuleAsync(string tenantId, string ruleId, AlertRuleDraft draft, CancellationToken cancellationToken = default)
    {
        var existing = await rules.GetAsync(tenantId, ruleId, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            return null;
        }

        var rule = ToRule(ruleId, tenantId, Valid(draft), existing.CreatedAt);
        await rules.UpsertAsync(rule, cancellationToken).ConfigureAwait(false);
        return rule;
    }

    /// <summary>Stores a subscription from a request <see cref="SubscriptionValidator"/> accepted.</summary>
    public async Task<AlertSubscription> CreateSubscriptionAsync(string tenantId, SubscriptionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var email = request.Channel == AlertChannels.Email;
        var subscription = new AlertSubscription
        {
            SubscriptionId = NewId("sub_"),
            TenantId = tenantId,
            Channel = request.Channel!,
            Url = email ? null : request.Url,
            Email = email ? request.Email!.Trim() : null,
            Secret = string.IsNullOrEmpty(request.Secret) ? null : request.Secret,
            Kinds = request.Kinds?.Distinct(StringComparer.Ordinal).ToArray() ?? [],
            CreatedAt = time.GetUtcNow(),
        };
        await subscriptions.AddAsync(subscription, cancellationToken).ConfigureAwait(false);
        return subscription;
    }

    private static AlertRuleDraft Valid(AlertRuleDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        return draft.Validate().IsValid ? draft : throw new ArgumentException("the rule draft is not valid: validate it first", nameof(draft));
    }

    private static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N");

    private static AlertRule ToRule(string ruleId, string tenantId, AlertRuleDraft draft, DateTimeOffset createdAt) => new()
    {
        RuleId = ruleId,
        TenantId = tenantId,
        Kind = draft.Kind!,
        Scope = draft.Scope,
        ScopeId = draft.ScopeId,
        Enabled = draft.Enabled ?? true,
        Cooldown = TimeSpan.FromMinutes(draft.CooldownMinutes ?? 60),
        CreatedAt = createdAt,
    };
}
