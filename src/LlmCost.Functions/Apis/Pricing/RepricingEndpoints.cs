using LlmCost.Core;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Functions.Apis.Recording;

namespace LlmCost.Functions.Apis.Pricing;

/// <summary>
/// <c>POST /api/repricing</c> (admin): <c>{"tenant_id", "period": "2026-03" | "from"/"to" (UTC days, inclusive),
/// "dry_run" (default true), "catalog_version" (optional)}</c>.
/// </summary>
public static class RepricingEndpoints
{
    /// <summary>
    /// The request. The handler reads the raw JSON (to refuse unknown fields and name each bad one), so this record
    /// documents the shape, it does not bind it.
    /// </summary>
    /// <param name="Period">A month, yyyy-MM; or give <paramref name="From"/> and <paramref name="To"/> (UTC days, yyyy-MM-dd, inclusive).</param>
    /// <param name="DryRun">true (default): answer the diff without rewriting anything.</param>
    /// <param name="CatalogVersion">A published catalog version to price with (default: the terms now in force).</param>
    public sealed record RepricingBody(string TenantId, string? Period, string? From, string? To, bool? DryRun, string? CatalogVersion);

    public sealed record ModelWire(string Provider, string Model, long Events, long Changed, string OldCostUsd, string NewCostUsd);

    public sealed record RepricingResponse(
        string JobId, string TenantId, DateOnly From, DateOnly To, bool DryRun, string CatalogVersion, long Events, long Changed,
        string OldCostUsd, string NewCostUsd, IReadOnlyList<ModelWire> Models, int PartitionsRewritten, int PartitionsAlreadyDone,
        IReadOnlyList<string> Skipped);

    public static IEndpointRouteBuilder MapRepricingEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/api/repricing", RepriceAsync).WithName("Reprice").WithTags("Pricing").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Accepts<RepricingBody>("application/json")
            .Produces<RepricingResponse>()
            .ProducesValidationProblem()
            .WithSummary("Re-prices a tenant's stored events of a period with the terms now in force (or a named catalog version); dry_run answers the diff per model.");
        return endpoints;
    }

    private static async Task<IResult> RepriceAsync(HttpRequest request, ClaimsPrincipal caller, RepricingService service, CancellationToken cancellationToken)
    {
        (JsonDocument? document, IResult? problem) = await JsonBody.ReadAsync(request, 16 * 1024, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        RepricingRequest? parsed;
        using (document)
        {
            parsed = Parse(document!.RootElement, out FieldError? error);
            if (parsed is null)
            {
                return ApiProblems.Field(error!.Field, error.Message);
            }
        }

        if (!caller.TryResolveTenant(parsed.TenantId, out _, out IResult? denied, "tenant_id"))
        {
            return denied;
        }

        RepricingResult? result = await service.RunAsync(parsed, caller.AuditActor(), cancellationToken);
        if (result is null)
        {
            return ApiProblems.Field("catalog_version", "names no published catalog version that loads without error-level findings");
        }

        static string Money(decimal value) => UsageWire.Money(value);
        return TypedResults.Ok(new RepricingResponse(
            result.JobId, parsed.TenantId, parsed.From, parsed.To, result.DryRun, result.CatalogVersion, result.Events, result.Changed,
            Money(result.OldCostUsd), Money(result.NewCostUsd),
            result.Models.Select(m => new ModelWire(m.Provider, m.Model, m.Events, m.Changed, Money(m.OldCostUsd), Money(m.NewCostUsd))).ToList(),
            result.PartitionsRewritten, result.PartitionsAlreadyDone, result.Skipped));
    }

    private static RepricingRequest? Parse(JsonElement body, out FieldError? error)
    {
        error = null;
        if (body.ValueKind != JsonValueKind.Object)
        {
            error = new FieldError("body", "must be a JSON object");
            return null;
        }

        string? tenant = null, period = null, from = null, to = null, catalog = null;
        bool dryRun = true;
        foreach (JsonProperty p in body.EnumerateObject())
        {
            switch (p.Name)
            {
                case "tenant_id" when p.Value.ValueKind == JsonValueKind.String:
                    tenant = p.Value.GetString();
                    break;
                case "period" when p.Value.ValueKind == JsonValueKind.String:
                    period = p.Value.GetString();
                    break;
                case "from" when p.Value.ValueKind == JsonValueKind.String:
                    from = p.Value.GetString();
                    break;
                case "to" when p.Value.ValueKind == JsonValueKind.String:
                    to = p.Value.GetString();
                    break;
                case "catalog_version" when p.Value.ValueKind is JsonValueKind.String or JsonValueKind.Null:
                    catalog = p.Value.GetString();
                    break;
                case "dry_run" when p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    dryRun = p.Value.GetBoolean();
                    break;
                case "tenant_id" or "period" or "from" or "to" or "catalog_version" or "dry_run":
                    error = new FieldError(p.Name, p.Name == "dry_run" ? "must be true or false" : "must be a string");
                    return null;
                default:
                    error = new FieldError(p.Name, "is not a known field (tenant_id, period, from, to, dry_run, catalog_version)");
                    return null;
            }
        }

        if (tenant is null || RecordKeys.Problem(tenant) is not null)
        {
            error = new FieldError("tenant_id", tenant is null ? "is required" : RecordKeys.Problem(tenant)!);
            return null;
        }

        DateOnly first, last;
        if (period is not null)
        {
            if (from is not null || to is not null)
            {
                error = new FieldError("period", "give either period or from/to");
                return null;
            }

            if (!DateOnly.TryParseExact(period + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out first))
            {
                error = new FieldError("period", "must be a month, yyyy-MM");
                return null;
            }

            last = first.AddMonths(1).AddDays(-1);
        }
        else if (!TryDay(from, out first))
        {
            error = new FieldError(from is null ? "period" : "from", from is null ? "is required (or from and to)" : "must be a UTC day, yyyy-MM-dd");
            return null;
        }
        else if (!TryDay(to, out last) || last < first)
        {
            error = new FieldError("to", "must be a UTC day, yyyy-MM-dd, not before from");
            return null;
        }

        if (last.DayNumber - first.DayNumber + 1 > RepricingService.MaxDays)
        {
            error = new FieldError(period is null ? "to" : "period", $"a repricing covers at most {RepricingService.MaxDays} days");
            return null;
        }

        if (catalog is not null && (catalog.Length is 0 or > 128 || catalog.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or ':' or '.' or '@'))))
        {
            error = new FieldError("catalog_version", "is not a catalog version name");
            return null;
        }

        return new RepricingRequest(tenant, first, last, dryRun, catalog);
    }

    private static bool TryDay(string? text, out DateOnly day) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day) && day.Year is >= 2000 and <= 2999;
}
