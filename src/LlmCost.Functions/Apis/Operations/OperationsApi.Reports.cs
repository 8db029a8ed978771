using LlmCost.Core;
using LlmCost.Core.Reports;
using LlmCost.Storage.Operations;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>Reports: generate a day's or month's report to blob, list them, download one.</summary>
public static partial class OperationsApi
{
    private static readonly TimeSpan DownloadLinkLifetime = TimeSpan.FromMinutes(15);

    private static async Task<IResult> CreateReport(
        ClaimsPrincipal caller, ReportService reports, HttpContext http, ReportBody body, CancellationToken cancellationToken)
    {
        var query = ReportQuery.Parse(body.Period, body.Date);
        if (!query.IsValid)
        {
            return ApiProblems.Validation(query.Errors, "Invalid report request");
        }

        if (!caller.TryResolveTenant(body.TenantId, out var tenantId, out var problem))
        {
            return problem;
        }

        var request = reports.WithCurrency(query.Value!.For(tenantId), body.Currency);
        if (!request.IsValid)
        {
            return ApiProblems.Validation(request.Errors, "Invalid report request");
        }

        var generated = await reports.GenerateAsync(request.Value!, cancellationToken);
        var report = generated.Report;
        var currency = report.Request.Currency;
        var fileList = new List<ReportFileResponse>();
        foreach (var (file, path) in report.Files.Zip(generated.Paths))
        {
            fileList.Add(new ReportFileResponse(file.Name, path, file.ContentType, file.Content.Length, await DownloadUrlAsync(reports, http, tenantId, path, cancellationToken)));
        }

        var totals = report.Totals;
        return TypedResults.Created($"/api/reports?tenant_id={Uri.EscapeDataString(tenantId)}", new ReportResponse(
            tenantId, query.Value.PeriodName, report.Request.Start, report.Request.End, generated.AsOf,
            currency is null ? null : new Pricing.CurrencyQuery.CurrencyWire(currency.Code, currency.Rate, currency.RateDate, currency.Description),
            new RollupTotalsResponse(totals.Requests, totals.Errors, totals.UnpricedRequests, totals.InputTokens, totals.OutputTokens, MoneyFormat.Format(totals.CostUsd),
                report.Cost is { } cost ? MoneyFormat.Format(cost) : null),
            fileList));
    }

    private static async Task<IResult> ListReports(
        ClaimsPrincipal caller, ReportService reports, HttpContext http, string? tenant_id, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        if (caller.CheckScopeAccess() is { } denied)
        {
            return denied;
        }

        var list = new List<StoredReportResponse>();
        foreach (var file in await reports.ListAsync(tenantId, cancellationToken))
        {
            list.Add(new StoredReportResponse(file.Path, file.Size, file.ContentType, file.LastModified, await DownloadUrlAsync(reports, http, tenantId, file.Path, cancellationToken)));
        }

        return TypedResults.Ok(new ReportListResponse(tenantId, list));
    }

    private static async Task<IResult> DownloadReport(
        ClaimsPrincipal caller, ReportService reports, string? tenant_id, string? path, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenant_id, out var tenantId, out var problem))
        {
            return problem;
        }

        if (caller.CheckScopeAccess() is { } denied)
        {
            return denied;
        }

        if (!reports.IsTenantReportPath(tenantId, path))
        {
            return ApiProblems.Field("path", $"must be a report file path of this tenant (reports/{OperationsStorage.SafeName(tenantId)}/..., no empty or dot segments)");
        }

        var file = path!;
        var content = await reports.ReadFileAsync(file, cancellationToken);
        if (content is null)
        {
            return ApiProblems.NotFound("report file", file);
        }

        var type = file.EndsWith(".csv", StringComparison.Ordinal) ? "text/csv; charset=utf-8"
            : file.EndsWith(".svg", StringComparison.Ordinal) ? "image/svg+xml" : "application/json";
        return TypedResults.File(content, type, file[(file.LastIndexOf('/') + 1)..]);
    }

    private static async Task<string> DownloadUrlAsync(ReportService reports, HttpContext http, string tenantId, string path, CancellationToken cancellationToken)
    {
        var sas = await reports.TryGetDownloadUriAsync(path, DownloadLinkLifetime, cancellationToken);
        if (sas is not null && !IsLocalEmulator(sas))
        {
            return sas.ToString();
        }

        var request = http.Request;
        return $"{request.Scheme}://{request.Host}{request.PathBase}/api/reports/download?tenant_id={Uri.EscapeDataString(tenantId)}&path={Uri.EscapeDataString(path)}";
    }

    /// <summary>Azurite can sign SAS links too, but locally the proxied endpoint is the link a client can always use.</summary>
    private static bool IsLocalEmulator(Uri uri) => uri.IsLoopback;
}
