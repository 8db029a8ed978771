using CsvHelper;
using LlmCost.Core.Recording;
using LlmCost.Core.Reports;
using LlmCost.Core.Retention;
using LlmCost.Functions.Apis.Recording;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Apis.Dashboard;

/// <summary>
/// GET /api/exports/focus: a period's recorded usage as a FinOps FOCUS cost and usage CSV (<see cref="FocusCostRows"/>),
/// under the same filters and key scoping as the breakdown. Only days still held raw: earlier days keep no
/// provider/model split, so a range reaching them is a 400 naming <c>from</c> rather than a file that silently
/// lacks them.
/// </summary>
internal static class FocusExportEndpoint
{
    public static IEndpointRouteBuilder MapFocusExport(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/exports/focus", ExportAsync).WithTags("Dashboard").RequireAuthorization(LlmCostAuth.ReaderPolicy)
            .WithName("ExportFocus")
            .Produces<string>(StatusCodes.Status200OK, "text/csv")
            .WithMetadata(new DocumentedQuery("tenant_id", "user_id", "team_id", "provider", "model", "app", "from", "to"))
            .WithSummary("FinOps FOCUS cost and usage CSV for [from, to); filters tenant_id, user_id, team_id, provider, model, app.");
        return endpoints;
    }

    private static async Task<IResult> ExportAsync(
        HttpContext http, IUsageSummaryReader reader, IOptions<UsageApiOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        ClaimsPrincipal caller = http.User;
        if (!BreakdownEndpoints.TryReadScope(caller, http.Request.Query, out UsageScope scope, out UsageFilter? filter, out IResult? problem))
        {
            return problem;
        }

        if (!UsageEndpoints.TryReadRange(http.Request.Query, time.GetUtcNow(), options.Value.MaxQueryDays, out DateTimeOffset from, out DateTimeOffset to, out IResult? rangeProblem))
        {
            return rangeProblem;
        }

        if (http.RequestServices.GetService<ArchivedUsage>() is { } history
            && await history.ReadAsync(scope, from, to, UsageGranularity.Day, cancellationToken) is { } archived)
        {
            return ApiProblems.Field("from", $"reaches days before {archived.Before:yyyy-MM-dd}, past raw retention: their provider/model split is not kept");
        }

        if (filter.App is not null && (to - from).TotalDays > BreakdownEndpoints.MaxEventDays)
        {
            return ApiProblems.Field("app", $"the app is summed from the events: at most {BreakdownEndpoints.MaxEventDays} days per request");
        }

        // The summaries keep no app: an export for one app sums the range's events into the same hour buckets.
        IReadOnlyList<UsageBucket> buckets = filter.App is not null
            ? await BreakdownEndpoints.ReadEventBucketsAsync(http.RequestServices.GetRequiredService<IUsageEventReader>(), scope, from, to, cancellationToken)
            : await reader.ReadBucketsAsync(scope, DateOnly.FromDateTime(from.UtcDateTime), DateOnly.FromDateTime(to.UtcDateTime.AddTicks(-1)), cancellationToken);
        var rows = FocusCostRows.Rows(scope.TenantId, buckets.Where(filter.Matches), from, to);
        await using var text = new StringWriter(CultureInfo.InvariantCulture);
        await using (var csv = new CsvWriter(text, CultureInfo.InvariantCulture, leaveOpen: true))
        {
            foreach (string column in FocusCostRows.Columns)
            {
                csv.WriteField(column);
            }

            await csv.NextRecordAsync();
            foreach (IReadOnlyList<string> row in rows)
            {
                foreach (string field in row)
                {
                    csv.WriteField(field);
                }

                await csv.NextRecordAsync();
            }
        }

        string name = $"focus-{scope.TenantId}-{from.UtcDateTime:yyyyMMdd}-{to.UtcDateTime:yyyyMMdd}.csv";
        return TypedResults.File(System.Text.Encoding.UTF8.GetBytes(text.ToString()), "text/csv; charset=utf-8", OperationsFileName(name));
    }

    /// <summary>Ids may hold characters a file name should not (quotes, spaces are fine; the id rule already excludes / \ # ?).</summary>
    private static string OperationsFileName(string name) => new(name.Select(c => char.IsControl(c) || c is '"' or ':' or '*' or '<' or '>' or '|' ? '_' : c).ToArray());
}
