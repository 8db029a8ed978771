using LlmCost.Core;
using System.Security.Claims;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Functions.Apis.Recording;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Hosting.Auth;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Apis.Pricing;

/// <summary>
/// Tenant price policies: <c>PUT/GET/DELETE /api/pricing/policies/{tenantId}</c> (admin keys). Thin: parse, call
/// <see cref="TenantPolicyService"/>, map outcomes.
/// </summary>
public static class PricingPolicyEndpoints
{
    /// <param name="Policy">The tenant's section of the policy format (null for a deletion).</param>
    public sealed record PolicyVersionWire(
        int Version, DateTimeOffset EffectiveFrom, DateTimeOffset CreatedAt, string Actor, bool Deleted, JsonElement? Policy);

    /// <param name="Current">The version in force now (null: list prices).</param>
    /// <param name="Versions">Every version, oldest first (never edited).</param>
    public sealed record PolicyResponse(string TenantId, PolicyVersionWire? Current, IReadOnlyList<PolicyVersionWire> Versions);

    public static IEndpointRouteBuilder MapPricingPolicyEndpoints(this IEndpointRouteBuilder endpoints)
    {
        RouteGroupBuilder policies = endpoints.MapGroup("/api/pricing/policies").WithTags("Pricing");
        policies.MapPut("/{tenantId}", PutAsync).WithName("PutPricingPolicy").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Accepts<JsonElement>("application/json")
            .Produces<PolicyResponse>()
            .ProducesValidationProblem()
            .WithSummary("Adds a version of the tenant's price policy (discount_percent, regional_uplift, volume_tiers, models; optional effective_from).");
        policies.MapGet("/{tenantId}", GetAsync).WithName("GetPricingPolicy").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Produces<PolicyResponse>()
            .WithSummary("The tenant's policy in force now and every version.");
        policies.MapDelete("/{tenantId}", DeleteAsync).WithName("DeletePricingPolicy").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Produces<PolicyResponse>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Ends the tenant's policy (list prices) from effective_from (default now); the history is kept.");
        return endpoints;
    }

    private static async Task<IResult> PutAsync(
        string tenantId, HttpRequest request, ClaimsPrincipal caller, TenantPolicyService service, IPricingTermsSource terms, IOptions<PricingOptions> options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        if (RecordKeys.Problem(tenantId) is { } problem)
        {
            return ApiProblems.Field("tenantId", problem);
        }

        (JsonDocument? document, IResult? bodyProblem) = await JsonBody.ReadAsync(request, options.Value.MaxPolicyBytes, cancellationToken);
        if (bodyProblem is not null)
        {
            return bodyProblem;
        }

        using (document)
        {
            TenantPolicyChange change = await service.PutAsync(tenantId, document!.RootElement, caller.AuditActor(), cancellationToken);
            if (!change.Succeeded)
            {
                return Invalid(change.Errors);
            }
        }

        // This instance prices with the new version from the next call on (others within the refresh interval).
        await terms.EnsureFreshAsync(cancellationToken);

        return TypedResults.Ok(From(await service.GetAsync(tenantId, cancellationToken), time.GetUtcNow()));
    }

    private static async Task<IResult> GetAsync(string tenantId, TenantPolicyService service, TimeProvider time, CancellationToken cancellationToken)
    {
        if (RecordKeys.Problem(tenantId) is { } problem)
        {
            return ApiProblems.Field("tenantId", problem);
        }

        return TypedResults.Ok(From(await service.GetAsync(tenantId, cancellationToken), time.GetUtcNow()));
    }

    private static async Task<IResult> DeleteAsync(
        string tenantId, [FromQuery(Name = "effective_from")] string? effectiveFrom, ClaimsPrincipal caller, TenantPolicyService service,
        IPricingTermsSource terms, TimeProvider time, CancellationToken cancellationToken)
    {
        if (RecordKeys.Problem(tenantId) is { } problem)
        {
            return ApiProblems.Field("tenantId", problem);
        }

        DateTimeOffset? at = null;
        if (effectiveFrom is not null)
        {
            var errors = new List<FieldError>();
            at = TenantPolicyService.ParseTime(JsonSerializer.SerializeToElement(effectiveFrom), errors);
            if (errors.Count > 0)
            {
                return Invalid(errors);
            }
        }

        TenantPolicyChange change = await service.DeleteAsync(tenantId, at, caller.AuditActor(), cancellationToken);
        if (change.NotFound)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"tenant '{tenantId}' has no price policy to delete");
        }

        await terms.EnsureFreshAsync(cancellationToken);

        return TypedResults.Ok(From(await service.GetAsync(tenantId, cancellationToken), time.GetUtcNow()));
    }

    private static PolicyResponse From(TenantPolicyHistory history, DateTimeOffset now)
    {
        TenantPolicyVersion? current = history.InForceAt(now);
        return new PolicyResponse(
            history.TenantId,
            current is { Deleted: false } ? Wire(current) : null,
            history.Versions.Select(Wire).ToList());
    }

    private static PolicyVersionWire Wire(TenantPolicyVersion v) => new(
        v.Version, v.EffectiveFrom, v.CreatedAt, v.Actor, v.Deleted,
        v.TermsJson is { } json ? JsonDocument.Parse(json).RootElement.Clone() : null);

    private static IResult Invalid(IReadOnlyList<FieldError> errors) => ApiProblems.Validation(errors, "Invalid price policy");
}
