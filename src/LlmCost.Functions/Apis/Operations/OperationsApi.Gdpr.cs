using System.Diagnostics.CodeAnalysis;
using LlmCost.Core.Recording;
using LlmCost.Core.Retention;
using LlmCost.Storage.Operations;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>GDPR: export everything held about a user, erase it (audited, never the audit itself).</summary>
public static partial class OperationsApi
{
    private static async Task<IResult> ExportUser(ClaimsPrincipal caller, GdprService gdpr, string userId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!TryResolveUser(caller, userId, tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var file = await gdpr.ExportAsync(tenantId, userId, caller.AuditActor(), cancellationToken);
        return TypedResults.File(file, "application/json", $"{OperationsStorage.SafeName(userId)}-export.json");
    }

    private static async Task<IResult> DeleteUser(ClaimsPrincipal caller, GdprService gdpr, string userId, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!TryResolveUser(caller, userId, tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        var deletion = await gdpr.DeleteAsync(tenantId, userId, caller.AuditActor(), cancellationToken);
        return TypedResults.Ok(UserDeletionResponse.From(deletion));
    }

    /// <summary>The user id is a valid key and the caller may act on the tenant (an export and an erasure check the same).</summary>
    private static bool TryResolveUser(
        ClaimsPrincipal caller, string userId, string? tenant_id, [NotNullWhen(true)] out string? tenantId, [NotNullWhen(false)] out IResult? problem)
    {
        if (RecordKeys.Problem(userId) is { } invalid)
        {
            tenantId = null;
            problem = ApiProblems.Field("user_id", invalid);
            return false;
        }

        return caller.TryResolveTenant(tenant_id, out tenantId, out problem);
    }
}
