using LlmCost.Core.Alerts;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>Alert rules: which kinds of alert a tenant wants, for which scope, how often.</summary>
public static partial class OperationsApi
{
    private static async Task<IResult> CreateRule(ClaimsPrincipal caller, AlertAdminService admin, RuleBody body, CancellationToken cancellationToken)
    {
        var draft = Draft(body).Validate();
        if (!draft.IsValid)
        {
            return ApiProblems.Validation(draft.Errors, "Invalid rule");
        }

        if (!caller.TryResolveTenant(body.TenantId, out var tenantId, out var problem))
        {
            return problem;
        }

        var rule = await admin.CreateRuleAsync(tenantId, draft.Value!, cancellationToken);
        return TypedResults.Created($"/api/alerts/rules/{rule.RuleId}?tenant_id={Uri.EscapeDataString(tenantId)}", RuleResponse.From(rule));
    }

    private static async Task<IResult> UpdateRule(
        ClaimsPrincipal caller, AlertAdminService admin, string ruleId, RuleBody body, CancellationToken cancellationToken)
    {
        var draft = Draft(body).Validate();
        if (!draft.IsValid)
        {
            return ApiProblems.Validation(draft.Errors, "Invalid rule");
        }

        if (!caller.TryResolveTenant(body.TenantId, out var tenantId, out var problem))
        {
            return problem;
        }

        var rule = await admin.UpdateRuleAsync(tenantId, ruleId, draft.Value!, cancellationToken);
        return rule is null ? ApiProblems.NotFound("rule", ruleId) : TypedResults.Ok(RuleResponse.From(rule));
    }

    private static async Task<IResult> GetRule(ClaimsPrincipal caller, IAlertRuleStore rules, string ruleId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var rule = await rules.GetAsync(tenantId, ruleId, cancellationToken);
        return rule is null || !caller.MaySee(rule.Scope, rule.ScopeId) ? ApiProblems.NotFound("rule", ruleId) : TypedResults.Ok(RuleResponse.From(rule));
    }

    private static async Task<IResult> ListRules(ClaimsPrincipal caller, IAlertRuleStore rules, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var list = await rules.ListAsync(tenantId, cancellationToken);
        return TypedResults.Ok(new RuleListResponse(list.Where(r => caller.MaySee(r.Scope, r.ScopeId)).OrderBy(r => r.CreatedAt).Select(RuleResponse.From).ToList()));
    }

    private static async Task<IResult> DeleteRule(ClaimsPrincipal caller, IAlertRuleStore rules, string ruleId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        return await rules.DeleteAsync(tenantId, ruleId, cancellationToken) ? TypedResults.NoContent() : ApiProblems.NotFound("rule", ruleId);
    }

    private static AlertRuleDraft Draft(RuleBody body) => new(body.Kind, body.Scope, body.ScopeId, body.Enabled, body.CooldownMinutes);
}
