using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Reports;

public sealed record GeneratedReport(Report Report, IReadOnlyList<string> Paths);

/// <summary>Builds a report from the rollups and writes its files to blob storage (same inputs → same bytes, so reruns overwrite identically).</summary>
public sealed class ReportService(IRollupStore rollups, IArchiveStore files, Func<string, string> safeName)
{
    public async Task<GeneratedReport> GenerateAsync(ReportRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var rows = await rollups.ReadAsync(request.TenantId, request.BucketGranularity, request.Start, request.End, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        var report = ReportBuilder.Build(request, rows);
        var folder = request.Folder(safeName(request.TenantId));
        var paths = new List<string>();
        foreach (var file in report.Files)
        {
            var path = folder + file.Name;
            await files.WriteAsync(path, file.Content, file.ContentType, cancellationToken).ConfigureAwait(false);
            paths.Add(path);
        }

        return new GeneratedReport(report, paths);
    }

    /// <summary>All report files of a tenant.</summary>
    public Task<IReadOnlyList<StoredFile>> ListAsync(string tenantId, CancellationToken cancellationToken = default) =>
        files.ListAsync("reports/" + safeName(tenantId) + "/", cancellationToken);
}
