using Azure.Data.Tables;
using LlmCost.Storage;
using LlmCost.Storage.Keys;
using LlmCost.Storage.Recording;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmCost.Functions.Hosting;

/// <summary>
/// <c>GET /api/health</c>: every registered health check (ASP.NET Core health checks; each has its own timeout, so
/// the answer is bounded even when a dependency hangs) → 200 when all are healthy, else 503 problem details with
/// Retry-After. The
/// answer names each check and its problem, so several problems (storage, secrets, ...) show at once. Other modules
/// add their checks with <c>services.AddHealthChecks().AddCheck&lt;T&gt;(name, timeout: ...)</c>.
/// </summary>
internal static class HealthEndpoint
{
    /// <summary>Longest a single check may take before it counts as failed.</summary>
    public static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(3);

    public static IServiceCollection AddLlmCostHealth(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<StorageHealthCheck>("storage", failureStatus: HealthStatus.Unhealthy, tags: [], timeout: CheckTimeout);
        return services;
    }

    public static IEndpointRouteBuilder MapHealthEndpoint(this IEndpointRouteBuilder endpoints)
    {
        // The configuration filter answers 503 naming app settings (never values) that are refused, e.g. an
        // unresolved Key Vault reference, before any check runs.
        endpoints.MapGet("/api/health", HealthAsync).AllowAnonymous().WithName("Health").WithTags("Health")
            .AddEndpointFilter<ConfigurationHealthFilter>()
            .Produces<HealthResponse>()
            .WithSummary("200 when every dependency answers, 503 (naming each failed check) otherwise.");
        return endpoints;
    }

    private static async Task<IResult> HealthAsync(HealthCheckService health, UsageProjectionTracker projection, HttpContext http, CancellationToken cancellationToken)
    {
        HealthReport report = await health.CheckHealthAsync(cancellationToken);
        var checks = report.Entries.ToDictionary(
            e => e.Key,
            e => new CheckResult(e.Value.Status == HealthStatus.Healthy ? "ok" : "failed", e.Value.Description, (long)e.Value.Duration.TotalMilliseconds));
        if (report.Status == HealthStatus.Healthy)
        {
            // How far the usage projector is behind: this instance's acknowledged events not yet applied, older
            // pending rows its last sweep found in storage, and the age of the oldest of them.
            ProjectionLag lag = projection.Lag();
            return TypedResults.Ok(new HealthResponse("healthy", checks, [], new ProjectionStatus(
                lag.LocalPending + lag.SweptPending, lag.LocalPending, lag.SweptPending, Math.Round(lag.OldestAge.TotalSeconds, 3))));
        }

        var problems = checks.Where(c => c.Value.Status != "ok").Select(c => $"{c.Key}: {c.Value.Detail ?? "failed"}").ToList();
        http.Response.Headers.RetryAfter = StorageOutage.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "Unhealthy",
            detail: string.Join("; ", problems),
            extensions: new Dictionary<string, object?> { ["checks"] = checks, ["problems"] = problems });
    }

    internal sealed record CheckResult(string Status, string? Detail, long DurationMs);

    internal sealed record HealthResponse(string Status, IReadOnlyDictionary<string, CheckResult> Checks, IReadOnlyList<string> Problems, ProjectionStatus Projection);

    internal sealed record ProjectionStatus(long Pending, long LocalPending, long SweptPending, double OldestAgeSeconds);
}

/// <summary>Storage answers a point read (a missing row is an answer) within the check's timeout.</summary>
internal sealed class StorageHealthCheck(LlmCostStorage storage) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await storage.Table(TableApiKeyStore.TableName)
                .GetEntityIfExistsAsync<TableEntity>("health", "probe", ["RowKey"], cancellationToken);
            return HealthCheckResult.Healthy("storage answers");
        }
        catch (Exception ex) when (StorageOutage.IsOutage(ex) || ex is Azure.RequestFailedException or InvalidOperationException)
        {
            // No exception text: it can carry account URLs.
            return HealthCheckResult.Unhealthy($"storage is not reachable ({ex.GetType().Name})");
        }
    }
}
