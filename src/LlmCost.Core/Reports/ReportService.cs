using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Reports;

/// <param name="AsOf">When the period's rollups were recomputed from the recorded events (raw and archived) for this report.</param>
public sealed record GeneratedReport(Report Report, IReadOnlyList<string> Paths, DateTimeOffset AsOf);

/// <summary>
/// Builds a report and writes its files to blob storage (same inputs → same bytes, so reruns overwrite identically).
/// The period's rollups are recomputed from the recorded events first (every day of it, then its month), so a report
/// equals the usage API for exactly the period it states, even right after recording, instead of trailing the
/// rollup timer.
/// </summary>
public sealed class ReportService(IRollupStore rollups, IArchiveStore files, Func<string, string> safeName, RollupRunner? recompute = null, TimeProvider? time = null)
{
    public async Task<GeneratedReport> GenerateAsync(ReportRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var asOf = (time ?? TimeProvider.System).GetUtcNow();
        if (recompute is not null)
        {
            for (var day = RollupPeriods.DayOf(request.Start); RollupPeriods.StartOfDay(day) < request.End; day = day.AddDays(1))
            {
                await recompute.RecomputeDayAsync(request.TenantId, day, cancellationToken).ConfigureAwait(false);
            }

            await recompute.RecomputeMonthAsync(request.TenantId, RollupPeriods.StartOf(RollupGranularity.Month, request.Start), cancellationToken).ConfigureAwait(false);
        }

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

        return new GeneratedReport(report, paths, asOf);
    }

    /// <summary>All report files of a tenant.</summary>
    public Task<IReadOnlyList<StoredFile>> ListAsync(string tenantId, CancellationToken cancellationToken = default) =>
        files.ListAsync(Prefix(tenantId), cancellationToken);

    /// <summary>
    /// True when <paramref name="path"/> names a file inside this tenant's reports, checked segment by segment (no
    /// dot segments a URL would collapse into another tenant's folder).
    /// </summary>
    public bool IsTenantReportPath(string tenantId, string? path) => FilePaths.IsSafeUnder(path, Prefix(tenantId));

    /// <summary>A report file's content, or null when it does not exist (check the path with <see cref="IsTenantReportPath"/> first).</summary>
    public Task<byte[]?> ReadFileAsync(string path, CancellationToken cancellationToken = default) => files.ReadAsync(path, cancellationToken);

    /// <summary>A time-limited direct link to a report file, or null when the account cannot sign one.</summary>
    public Task<Uri?> TryGetDownloadUriAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken = default) =>
        files.TryGetDownloadUriAsync(path, lifetime, cancellationToken);

    /// <summary>The existing reports (day and month) that include <paramref name="day"/>; what a GDPR erasure must rewrite.</summary>
    public async Task<IReadOnlyList<ReportRequest>> ExistingReportsCoveringAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default)
    {
        var found = new List<ReportRequest>();
        foreach (var candidate in new[] { new ReportRequest(tenantId, ReportPeriod.Day, day), new ReportRequest(tenantId, ReportPeriod.Month, day) })
        {
            var folder = candidate.Folder(safeName(tenantId));
            if ((await files.ListAsync(folder + candidate.BaseName + ".", cancellationToken).ConfigureAwait(false)).Count > 0)
            {
                found.Add(candidate);
            }
        }

        return found;
    }

    private string Prefix(string tenantId) => "reports/" + safeName(tenantId) + "/";
}
