using LlmCost.Core.Audit;
using LlmCost.Core.Recording;
using LlmCost.Storage;
using Microsoft.AspNetCore.Mvc;

namespace LlmCost.Functions.Hosting.Auth;

/// <summary>Key management for admins: <c>POST/GET /api/keys</c>, <c>DELETE /api/keys/{keyId}</c>.</summary>
public static class ApiKeyEndpoints
{
    public sealed record CreateKeyRequest(string? Role, string? TenantId, string? UserId, string? Name);

    public sealed record KeyResponse(string KeyId, string Role, string? TenantId, string? UserId, string? Name, DateTimeOffset CreatedAt);

    public sealed record KeyListResponse(IReadOnlyList<KeyResponse> Keys);

    /// <summary>The only time the plain key is ever shown.</summary>
    public sealed record CreatedKeyResponse(string KeyId, string ApiKey, string Role, string? TenantId, string? UserId, string? Name, DateTimeOffset CreatedAt);

    public static IEndpointRouteBuilder MapApiKeyEndpoints(this IEndpointRouteBuilder endpoints)
    {
        RouteGroupBuilder group = endpoints.MapGroup("/api/keys").RequireAuthorization(LlmCostAuth.AdminPolicy).WithTags("Keys");

        group.MapPost("/", async (CreateKeyRequest? request, ApiKeyService keys, ClaimsPrincipal caller, HttpContext http, CancellationToken cancellationToken) =>
        {
            if (request is null)
            {
                return ApiProblems.Field("body", "is required");
            }

            if (!ApiKeyRoles.IsKnown(request.Role))
            {
                return ApiProblems.Field("role", "must be one of admin, ingest, reader");
            }

            if (request.Role != ApiKeyRoles.Admin || request.TenantId is not null)
            {
                if (RecordKeys.Problem(request.TenantId) is { } tenantProblem)
                {
                    return ApiProblems.Field("tenant_id", tenantProblem);
                }
            }

            if (request.UserId is not null)
            {
                if (request.Role != ApiKeyRoles.Reader)
                {
                    return ApiProblems.Field("user_id", "is only allowed for reader keys");
                }

                if (RecordKeys.Problem(request.UserId) is { } userProblem)
                {
                    return ApiProblems.Field("user_id", userProblem);
                }
            }

            if (request.Name is { Length: > 200 })
            {
                return ApiProblems.Field("name", "must be at most 200 characters");
            }

            (ApiKeyRecord record, string plain) = await keys.CreateAsync(
                request.Role!, request.Role == ApiKeyRoles.Admin ? null : request.TenantId, request.UserId, request.Name, caller.AuditActor(), cancellationToken);
            await MoveAuditLinesAsync(http, record.TenantId);
            return TypedResults.Created($"/api/keys/{record.KeyId}",
                new CreatedKeyResponse(record.KeyId, plain, record.Role, record.TenantId, record.UserId, record.Name, record.CreatedAt));
        }).WithName("CreateApiKey").Produces<CreatedKeyResponse>(StatusCodes.Status201Created)
            .WithSummary("Creates an admin, ingest or reader key (a reader may be bound to one user); the answer is the only time the key is shown.");

        group.MapGet("/", async ([FromQuery(Name = "tenant_id")] string? tenantId, IApiKeyStore store, CancellationToken cancellationToken) =>
        {
            IReadOnlyList<ApiKeyRecord> all = await store.ListAsync(tenantId, cancellationToken);
            return TypedResults.Ok(new KeyListResponse(
                all.OrderBy(k => k.CreatedAt).Select(k => new KeyResponse(k.KeyId, k.Role, k.TenantId, k.UserId, k.Name, k.CreatedAt)).ToList()));
        }).WithName("ListApiKeys").Produces<KeyListResponse>()
            .WithSummary("Every API key (never the key itself), oldest first; tenant_id lists one tenant's.");

        group.MapDelete("/{keyId}", async (string keyId, ApiKeyService keys, IApiKeyStore store, ClaimsPrincipal caller, HttpContext http, CancellationToken cancellationToken) =>
        {
            ApiKeyRecord? key = await store.FindAsync(keyId, cancellationToken);
            if (key is null || !await keys.DeleteAsync(keyId, caller.AuditActor(), cancellationToken))
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"no API key '{keyId}'");
            }

            await MoveAuditLinesAsync(http, key.TenantId);
            return Results.NoContent();
        }).WithName("DeleteApiKey").Produces(StatusCodes.Status204NoContent)
            .WithSummary("Revokes a key: at once on this instance, within the key cache duration on others.");

        return endpoints;
    }

    /// <summary>
    /// Moves the change's audit line (committed with it, pending in the key table) into the audit log now, so the key
    /// table does not accumulate them; if storage refuses, the line stays pending and the next audit read moves it.
    /// </summary>
    private static async Task MoveAuditLinesAsync(HttpContext http, string? tenantId)
    {
        if (http.RequestServices.GetService<AuditTrail>() is not { } audit)
        {
            return;
        }

        try
        {
            await audit.DrainAsync(tenantId ?? AuditEntry.ServiceWide, CancellationToken.None);
        }
        catch (Exception ex) when (StorageOutage.IsOutage(ex))
        {
            // The key change itself is committed (with its line); answering an error now would be wrong.
        }
    }
}
