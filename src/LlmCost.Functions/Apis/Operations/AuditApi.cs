using LlmCost.Core.Audit;

namespace LlmCost.Functions.Apis.Operations;

/// <summary><c>GET /api/audit</c>: the one audit log (keys, budgets, freezes, profiles, GDPR), newest first.</summary>
public static class AuditApi
{
    public sealed record AuditLine(
        string AuditId, string TenantId, DateTimeOffset At, string Actor, string Action, string TargetType, string TargetId,
        string? UserId, IReadOnlyDictionary<string, string> Details);

    public sealed record AuditResponse(string TenantId, IReadOnlyList<AuditLine> Entries);

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/audit", ListAsync).WithName("GetAuditLog").WithTags("Audit").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Produces<AuditResponse>()
            .WithSummary("Audit lines of a tenant (tenant_id), or without tenant_id the service-wide ones (admin keys); newest first.");
        return endpoints;
    }

    private static async Task<IResult> ListAsync(string? tenant_id, string? user_id, int? limit, ClaimsPrincipal caller, AuditTrail audit, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 1000)
        {
            return ApiProblems.Field("limit", "must be between 1 and 1000");
        }

        string tenant = AuditEntry.ServiceWide;
        if (!string.IsNullOrEmpty(tenant_id) && !caller.TryResolveTenant(tenant_id, out tenant!, out var problem))
        {
            return problem;
        }

        var entries = await audit.ListAsync(tenant, user_id is null ? limit ?? 200 : 1000, cancellationToken);
        var lines = entries.Where(e => user_id is null || e.IsAbout(user_id)).Take(limit ?? 200)
            .Select(e => new AuditLine(e.AuditId, e.TenantId, e.At, e.Actor, e.Action, e.TargetType, e.TargetId, e.UserId, e.Details))
            .ToList();
        return TypedResults.Ok(new AuditResponse(tenant, lines));
    }
}
