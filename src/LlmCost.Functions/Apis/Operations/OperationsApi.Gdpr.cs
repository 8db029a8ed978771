using LlmCost.Core.Recording;
using LlmCost.Core.Retention;
using LlmCost.Storage.Operations;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>GDPR: export everything held about a user, erase it (audited, never the audit itself).</summary>
public static partial class OperationsApi
{
    private static async Task<IResult> ExportUser(ClaimsPrincipal caller, GdprService gdpr, string userId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (RecordKeys.Problem(userId) is { } invalid)
        {
            return ApiProblems.Field("user_id", invalid);
        }

        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var file = await gdpr.ExportAsync(tenantId, userId, caller.AuditActor(), cancellationToken);
        return TypedResults.File(file, "application/json", $"{OperationsStorage.SafeName(userId)}-export.json");
    }

    private static async Task<IResult> DeleteUser(ClaimsPrincipal caller, GdprService gdpr, string userId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (RecordKeys.Problem(userId) is { } invalid)
        {
            return ApiProblems.Field("user_id", invalid);
        }

        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var deletion = await gdpr.DeleteAsync(tenantId, userId, caller.AuditActor(), cancellationToken);
        return TypedResults.Ok(UserDeletionResponse.From(deletion));
    }
}
