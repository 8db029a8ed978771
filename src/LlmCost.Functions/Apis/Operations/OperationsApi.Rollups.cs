using LlmCost.Core.Rollups;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>Rollups: hour, day and month totals of a tenant by tenant, team, user, provider and model.</summary>
public static partial class OperationsApi
{
    private static async Task<IResult> GetRollups(
        ClaimsPrincipal caller, RollupQueryService rollups, string? tenant_id, string? granularity, string? from, string? to, string? dimension,
        CancellationToken cancellationToken)
    {
        var query = RollupQuery.Parse(granularity, from, to, dimension);
        if (!query.IsValid)
        {
            return ApiProblems.Validation(query.Errors, "Invalid rollup query");
        }

        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        if (caller.CheckScopeAccess() is { } denied)
        {
            return denied;
        }

        var rows = await rollups.ReadAsync(tenantId, query.Value!, cancellationToken);
        return TypedResults.Ok(new RollupsResponse(tenantId, granularity!, rows.Select(RollupRowResponse.From).ToList()));
    }
}
