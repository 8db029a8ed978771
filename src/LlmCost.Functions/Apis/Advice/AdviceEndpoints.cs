using LlmCost.Core.Advice;
using LlmCost.Core.Recording;
using Microsoft.AspNetCore.Mvc;

namespace LlmCost.Functions.Apis.Advice;

/// <summary>GET /api/recommendations: the report, plus where it came from.</summary>
/// <param name="Source">"stored" (computed by the timer for exactly this period) or "on_demand".</param>
public sealed record RecommendationsResponse(
    string TenantId,
    DateTimeOffset From,
    DateTimeOffset To,
    string Scope,
    string Source,
    DateTimeOffset ComputedAt,
    long Requests,
    long UnpricedRequests,
    string PriceSource,
    string CapabilitySource,
    IReadOnlyList<Recommendation> Recommendations);

/// <summary>
/// HTTP surface of the advice module: parse, resolve the caller's tenant and what it may see, call Core, map.
/// Readers bound to a user see only that user's recommendations (scope=user&amp;scope_id=them); team, app and
/// tenant views and business metrics need a key that may read the whole tenant.
/// </summary>
public static class AdviceEndpoints
{
    /// <summary>Default period: the last 7 whole UTC days, the period the timer stores.</summary>
    private const int DefaultDays = RecommendationRunner.PeriodDays;

    public static IEndpointRouteBuilder MapAdviceEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api").WithTags("Advice");
        api.MapGet("/recommendations", RecommendationsAsync).WithName("ListRecommendations").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .Produces<RecommendationsResponse>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden)
            .WithSummary("Recommendations from recorded usage, each re-priced with the catalog and the tenant's policy");
        api.MapPost("/models/select", SelectAsync).WithName("SelectModel").RequireAuthorization(LlmCostAuth.IngestPolicy)
            .Accepts<ModelSelectionRequest>("application/json").Produces<ModelSelectionResult>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden)
            .WithSummary("Rank the models that can do a task by estimated cost, with why each was kept or excluded and the budget decision each would get");
        api.MapGet("/metrics/business", BusinessMetricsAsync).WithName("GetBusinessMetrics").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .Produces<BusinessMetricsReport>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden)
            .WithSummary("Savings realised, cost per request and per 1K output tokens by model, provider distribution, budget adherence, unpriced share");
        return endpoints;
    }

    private static async Task<IResult> RecommendationsAsync(
        ClaimsPrincipal caller,
        [FromQuery(Name = "tenant_id")] string? tenantId,
        [FromQuery(Name = "from")] string? from,
        [FromQuery(Name = "to")] string? to,
        [FromQuery(Name = "scope")] string? scope,
        [FromQuery(Name = "scope_id")] string? scopeId,
        [FromQuery(Name = "kind")] string[]? kinds,
        RecommendationService service,
        IRecommendationStore store,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenantId, out var tenant, out var problem))
        {
            return problem;
        }

        if (!TryReadPeriod(from, to, time.GetUtcNow(), out DateTimeOffset fromAt, out DateTimeOffset toAt, out problem))
        {
            return problem;
        }

        string scopeName = scope ?? RecommendationScopes.Tenant;
        if (scopeId is not null && RecordKeys.Problem(scopeId) is { } invalid)
        {
            return ApiProblems.Field("scope_id", invalid);
        }

        // A reader bound to a user may only ask about that user.
        if (caller.BoundUser() is { } bound
            && !(scopeName == RecommendationScopes.User && string.Equals(scopeId, bound, StringComparison.Ordinal)))
        {
            return CallerAccess.Forbidden("this API key may only read its own user (scope=user&scope_id=<its user>)");
        }

        var request = new RecommendationRequest
        {
            TenantId = tenant,
            From = fromAt,
            To = toAt,
            Scope = scopeName,
            ScopeId = scopeId,
            Kinds = kinds is { Length: > 0 } ? kinds : null,
        };
        if (RecommendationService.Validate(request) is { } errors)
        {
            return Invalid(errors);
        }

        // The timer's stored report answers the tenant view of exactly its period; anything else is computed now.
        if (request.Scope == RecommendationScopes.Tenant
            && await store.FindAsync(tenant, fromAt, toAt, cancellationToken).ConfigureAwait(false) is { } stored)
        {
            return TypedResults.Ok(Response(stored.Report, request, "stored", stored.ComputedAt));
        }

        var answer = await service.RecommendAsync(request, cancellationToken).ConfigureAwait(false);
        return answer.IsValid ? TypedResults.Ok(Response(answer.Value!, request, "on_demand", time.GetUtcNow())) : Invalid(answer.Errors);
    }

    private static async Task<IResult> SelectAsync(ModelSelectionRequest? body, ClaimsPrincipal caller, ModelSelectionService service, CancellationToken cancellationToken)
    {
        if (body is null)
        {
            return ApiProblems.Field("body", "is required");
        }

        if (!caller.TryResolveTenant(body.TenantId, out var tenant, out var problem))
        {
            return problem;
        }

        // A key bound to a user previews that user's budgets only.
        if (body.UserId is { } user && caller.CheckUserAccess(user) is { } denied)
        {
            return denied;
        }

        var result = await service.SelectAsync(body with { TenantId = tenant, UserId = body.UserId ?? caller.BoundUser() }, cancellationToken).ConfigureAwait(false);
        return result.IsValid ? TypedResults.Ok(result.Value!) : Invalid(result.Errors);
    }

    private static async Task<IResult> BusinessMetricsAsync(
        ClaimsPrincipal caller,
        [FromQuery(Name = "tenant_id")] string? tenantId,
        [FromQuery(Name = "team_id")] string? teamId,
        [FromQuery(Name = "from")] string? from,
        [FromQuery(Name = "to")] string? to,
        BusinessMetricsService service,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenantId, out var tenant, out var problem))
        {
            return problem;
        }

        if (caller.CheckScopeAccess() is { } denied)
        {
            return denied;
        }

        if (teamId is not null && RecordKeys.Problem(teamId) is { } invalid)
        {
            return ApiProblems.Field("team_id", invalid);
        }

        if (!TryReadPeriod(from, to, time.GetUtcNow(), out DateTimeOffset fromAt, out DateTimeOffset toAt, out problem))
        {
            return problem;
        }

        var answer = await service.ComputeAsync(new BusinessMetricsRequest { TenantId = tenant, TeamId = teamId, From = fromAt, To = toAt }, cancellationToken).ConfigureAwait(false);
        return answer.IsValid ? TypedResults.Ok(answer.Value!) : Invalid(answer.Errors);
    }

    private static RecommendationsResponse Response(RecommendationReport report, RecommendationRequest request, string source, DateTimeOffset computedAt)
    {
        IEnumerable<Recommendation> list = report.Recommendations;
        if (request.Kinds is { } kinds)
        {
            list = list.Where(r => kinds.Contains(r.Kind, StringComparer.Ordinal));
        }

        return new RecommendationsResponse(report.TenantId, report.From, report.To, request.Scope, source, computedAt,
            report.Requests, report.UnpricedRequests, report.PriceSource, report.CapabilitySource, [.. list]);
    }

    /// <summary>from/to: ISO dates (00:00 UTC) or date-times with an offset, half-open [from, to). Default: the last 7 whole UTC days.</summary>
    private static bool TryReadPeriod(string? from, string? to, DateTimeOffset now, out DateTimeOffset fromAt, out DateTimeOffset toAt,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out IResult? problem)
    {
        problem = null;
        fromAt = default;
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        if (!TryReadInstant(to, today, out toAt) || !QueryDates.InRange(toAt))
        {
            problem = ApiProblems.Field("to", $"must be a date (2026-11-23) or a date-time with an offset (2026-11-23T00:00:00Z) and {QueryDates.Problem}");
            return false;
        }

        if (!TryReadInstant(from, toAt.AddDays(-DefaultDays), out fromAt) || !QueryDates.InRange(fromAt))
        {
            problem = ApiProblems.Field("from", $"must be a date (2026-11-16) or a date-time with an offset (2026-11-16T00:00:00Z) and {QueryDates.Problem}");
            return false;
        }

        if (fromAt >= toAt)
        {
            problem = ApiProblems.Field("from", "must be before to");
            return false;
        }

        if ((toAt - fromAt).TotalDays > RecommendationService.MaxPeriodDays)
        {
            problem = ApiProblems.Field("to", $"the period may cover at most {RecommendationService.MaxPeriodDays} days");
            return false;
        }

        return true;
    }

    private static bool TryReadInstant(string? text, DateTimeOffset fallback, out DateTimeOffset value)
    {
        value = fallback;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly date))
        {
            value = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            return true;
        }

        bool hasOffset = text.EndsWith('Z') || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
        return hasOffset && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out value);
    }

    private static IResult Invalid(IReadOnlyDictionary<string, string[]> errors) => ApiProblems.Validation(errors);
}
