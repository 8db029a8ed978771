using LlmCost.Core;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Functions.Apis.Recording;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Apis.Pricing;

/// <summary>
/// Tenant price policies: <c>PUT/GET/DELETE /api/pricing/policies/{tenantId}</c> (admin keys). Thin: parse, call
/// <see cref="TenantPolicyService"/>, map outcomes.
/// </summary>
public static class PricingPolicyEndpoints
{
    /// <summary>
    /// The PUT body: one tenant's section of the policy format plus <c>effective_from</c>. The handler reads the raw JSON
    /// (validated exactly as the CLI validates a policy file's section), so this record documents the shape, it does
    /// not bind it.
    /// </summary>
    /// <param name="DiscountPercent">Negotiated discount on list prices, in percent (15 = 15% off).</param>
    /// <param name="RegionalUplift">Multiplier for the tenant's region (1.1 = +10%).</param>
    /// <param name="Models">Custom prices or model mappings, tried in order.</param>
    /// <param name="VolumeTiers">Discounts by month-to-date volume.</param>
    /// <param name="EffectiveFrom">When this version takes effect (default now); an ISO date-time with offset.</param>
    public sealed record PolicyBody(
        decimal? DiscountPercent, decimal? RegionalUplift, IReadOnlyList<ModelPriceRuleBody>? Models, IReadOnlyList<VolumeTierBody>? VolumeTiers,
        DateTimeOffset? EffectiveFrom);

    /// <param name="Model">The model name as callers send it; exact (case-insensitive), or a prefix when it ends with '*'.</param>
    /// <param name="Provider">Only for calls from this provider; null = any.</param>
    /// <param name="MapToModel">The catalog model to price this name as.</param>
    /// <param name="Prices">Explicit net prices by genai-prices price key: a number (USD per million tokens / per thousand
    /// requests), or {"base": n, "tiers": [{"start": tokens, "price": n}]}.</param>
    /// <param name="DiscountPercent">Replaces the tenant's and volume discounts for this model.</param>
    /// <param name="RegionalUplift">Replaces the tenant's regional uplift for this model.</param>
    public sealed record ModelPriceRuleBody(
        string Model, string? Provider, string? MapToProvider, string? MapToModel, IReadOnlyDictionary<string, JsonElement>? Prices,
        decimal? DiscountPercent, decimal? RegionalUplift);

    /// <param name="Basis">monthly_spend_usd or monthly_tokens (input + output).</param>
    /// <param name="Threshold">The month-to-date volume from which the tier applies.</param>
    public sealed record VolumeTierBody(string Basis, decimal Threshold, decimal DiscountPercent);

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
            .Accepts<PolicyBody>("application/json")
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
