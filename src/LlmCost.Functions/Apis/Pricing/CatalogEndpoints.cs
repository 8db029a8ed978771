using LlmCost.Core.Pricing;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Apis.Pricing;

/// <summary>
/// Published price catalogs: <c>POST /api/pricing/catalogs</c> (admin; the body is a genai-prices or LiteLLM JSON
/// file) validates and publishes a new version; <c>GET /api/pricing/catalogs</c> says which version this instance
/// prices with and which versions exist.
/// </summary>
public static class CatalogEndpoints
{
    public sealed record FindingWire(string Severity, string ProviderId, string? ModelId, string Code, string Message);

    public sealed record PublishedWire(string Version, string Sha256, DateTimeOffset PublishedAt, string Format, int Models, string Actor);

    public sealed record PublishResponse(PublishedWire Published, IReadOnlyList<FindingWire> Findings);

    /// <param name="InForce">The version this instance prices with (builtin:… when none is published).</param>
    /// <param name="Pointer">The version every instance moves to within the poll interval.</param>
    /// <param name="Refused">A pointed-to version this instance refused, and why.</param>
    public sealed record CatalogsResponse(
        string InForce, int InForceModels, PublishedWire? Pointer, string? Refused, string? RefusedReason, double PollSeconds,
        IReadOnlyList<PublishedWire> Versions);

    public static IEndpointRouteBuilder MapCatalogEndpoints(this IEndpointRouteBuilder endpoints, long maxCatalogBytes)
    {
        RouteGroupBuilder catalogs = endpoints.MapGroup("/api/pricing/catalogs").WithTags("Pricing");
        catalogs.MapPost("/", PublishAsync).WithName("PublishCatalog").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .WithMetadata(new RequestSizeLimitAttribute(maxCatalogBytes))
            .Accepts<System.Text.Json.JsonElement>("application/json")
            .Produces<PublishResponse>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .WithSummary("Validates a genai-prices or LiteLLM catalog file and publishes it as a new version (error-level findings refuse it).");
        catalogs.MapGet("/", GetAsync).WithName("GetCatalogs").RequireAuthorization()
            .Produces<CatalogsResponse>()
            .WithSummary("The catalog version this instance prices with, the published pointer and every published version.");
        return endpoints;
    }

    private static async Task<IResult> PublishAsync(HttpRequest request, ClaimsPrincipal caller, CatalogPublisher publisher, PublishedCatalogSource source, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        if (buffer.Length == 0)
        {
            return ApiProblems.Field("body", "is empty; send a genai-prices or LiteLLM catalog file");
        }

        CatalogPublishResult result = await publisher.PublishAsync(buffer.ToArray(), caller.AuditActor(), cancellationToken);
        List<FindingWire> findings = result.Issues.Select(Wire).ToList();
        if (!result.Succeeded)
        {
            var errors = findings.Where(f => f.Severity == "error")
                .Select(f => $"{f.ProviderId}/{f.ModelId} [{f.Code}]: {f.Message}")
                .DefaultIfEmpty(result.Error ?? "the catalog does not load")
                .ToArray();
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["body"] = errors },
                detail: $"body refused: {result.Error}; {string.Join("; ", errors.Take(5))}",
                title: "Invalid price catalog",
                extensions: new Dictionary<string, object?> { ["findings"] = findings });
        }

        // This instance moves at once; the others at their next poll.
        await source.RefreshAsync(cancellationToken);
        return TypedResults.Created("/api/pricing/catalogs", new PublishResponse(Wire(result.Published!), findings));
    }

    private static async Task<IResult> GetAsync(PublishedCatalogSource source, ICatalogStore store, IOptions<PricingOptions> options, CancellationToken cancellationToken)
    {
        CatalogVersion inForce = source.Current;
        CatalogPointer? pointer = await store.ReadPointerAsync(cancellationToken);
        IReadOnlyList<CatalogPointer> versions = await store.ListAsync(cancellationToken);
        return TypedResults.Ok(new CatalogsResponse(
            inForce.Version, inForce.Catalog.ModelCount, pointer is null ? null : Wire(pointer), source.LastRefused?.Version, source.LastRefused?.Reason,
            options.Value.CatalogPollSeconds, versions.Select(Wire).ToList()));
    }

    private static FindingWire Wire(CatalogIssue i) => new(i.Severity.ToString().ToLowerInvariant(), i.ProviderId, i.ModelId, i.Code, i.Message);

    private static PublishedWire Wire(CatalogPointer p) => new(p.Version, p.Sha256, p.PublishedAt, p.Format, p.Models, p.Actor);
}
