using System.Diagnostics.CodeAnalysis;
using LlmCost.Core.Recording;

namespace LlmCost.Functions.Hosting.Auth;

/// <summary>
/// Tenant resolution and isolation checks every module applies after the role policy: the tenant is the key's
/// own tenant (a different <c>tenant_id</c> is 403), admins name it with <c>tenant_id</c>; a reader bound to
/// user A is 403 on anything but user A.
/// </summary>
public static class CallerAccess
{
    public static string? Role(this ClaimsPrincipal caller) => caller.FindFirstValue(LlmCostAuth.RoleClaim);

    public static bool IsAdmin(this ClaimsPrincipal caller) => caller.Role() == ApiKeyRoles.Admin;

    /// <summary>The key's tenant claim (null for admin keys).</summary>
    public static string? KeyTenant(this ClaimsPrincipal caller) => caller.FindFirstValue(LlmCostAuth.TenantClaim);

    /// <summary>The user a reader key is bound to, or null.</summary>
    public static string? BoundUser(this ClaimsPrincipal caller) => caller.FindFirstValue(LlmCostAuth.UserClaim);

    /// <summary>
    /// The effective tenant for this request. Non-admin keys act on their own tenant; naming another one is 403.
    /// Admin keys must name it (<paramref name="requestedTenantId"/>, usually the <c>tenant_id</c> field/query).
    /// </summary>
    public static bool TryResolveTenant(
        this ClaimsPrincipal caller,
        string? requestedTenantId,
        [NotNullWhen(true)] out string? tenantId,
        [NotNullWhen(false)] out IResult? problem,
        string field = "tenant_id")
    {
        ArgumentNullException.ThrowIfNull(caller);
        tenantId = null;
        problem = null;
        if (caller.IsAdmin())
        {
            if (string.IsNullOrEmpty(requestedTenantId))
            {
                problem = ApiProblems.Field(field, "is required with an admin key");
                return false;
            }

            string? invalid = RecordKeys.Problem(requestedTenantId);
            if (invalid is not null)
            {
                problem = ApiProblems.Field(field, invalid);
                return false;
            }

            tenantId = requestedTenantId;
            return true;
        }

        string? own = caller.KeyTenant();
        if (own is null)
        {
            problem = Forbidden("this API key is not bound to a tenant");
            return false;
        }

        if (!string.IsNullOrEmpty(requestedTenantId) && !string.Equals(requestedTenantId, own, StringComparison.Ordinal))
        {
            problem = Forbidden("this API key cannot act on another tenant");
            return false;
        }

        tenantId = own;
        return true;
    }

    /// <summary>Null when the caller may read <paramref name="userId"/>; otherwise a 403 problem.</summary>
    public static IResult? CheckUserAccess(this ClaimsPrincipal caller, string userId)
    {
        ArgumentNullException.ThrowIfNull(caller);
        string? bound = caller.BoundUser();
        return bound is null || string.Equals(bound, userId, StringComparison.Ordinal)
            ? null
            : Forbidden("this API key may only read its own user");
    }

    /// <summary>Null when the caller may read a whole team or tenant (not a user-bound reader); otherwise 403.</summary>
    public static IResult? CheckScopeAccess(this ClaimsPrincipal caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.BoundUser() is null ? null : Forbidden("this API key may only read its own user");
    }

    /// <summary>
    /// Whether the caller may see a record about (<paramref name="scope"/>, <paramref name="scopeId"/>) of its tenant:
    /// everything for admin and tenant keys; for a reader bound to a user, only records about that user. Every list
    /// endpoint filters with this, and every single-record read answers 404 for what it would filter out.
    /// </summary>
    public static bool MaySee(this ClaimsPrincipal caller, string? scope, string? scopeId)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.BoundUser() is not { } bound
            || (string.Equals(scope, "user", StringComparison.OrdinalIgnoreCase) && string.Equals(scopeId, bound, StringComparison.Ordinal));
    }

    /// <summary>Who acted, as written into audit lines: "key:{keyId}" (never the key itself), else the role.</summary>
    public static string AuditActor(this ClaimsPrincipal caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.FindFirstValue(LlmCostAuth.KeyIdClaim) is { Length: > 0 } keyId ? $"key:{keyId}" : caller.Role() ?? "unknown";
    }

    public static IResult Forbidden(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail);
}
