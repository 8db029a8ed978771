using System.Text.Json;
using System.Text.RegularExpressions;
using LlmCost.Core.Pricing;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Reports;

/// <param name="AsOf">When the period's rollups were recomputed from the recorded events (raw and archived) for this report.</param>
public sealed record GeneratedReport(Report Report, IReadOnlyList<string> Paths, DateTimeOffset AsOf);

/// <summary>
/// Builds a report and writes its files to blob storage (same inputs → same bytes, so reruns overwrite identically).
/// The period's rollups are recomputed from the recorded events first (every day of it, then its month), so a report
/// equals the usage API for exactly the period it states, even right after recording, instead of trailing the
/// rollup timer. A report in another currency is a set of files of its own ("daily.eur.json") next to the USD one.
/// </summary>
public sealed partial class ReportService(
    IRollupStore rollups, IArchiveStore files, Func<string, string> safeName, RollupRunner? recompute = null, TimeProvider? time = null, CurrencyConverter? currencies = null)
{
    /// <summary>
    /// The request in <paramref name="currency"/> (null or empty: USD only), at the configured rate of the report's last
    /// day (today while the period runs), or the reason it cannot be converted, for the <c>currency</c> field.
    /// </summary>
    public Validated<ReportRequest> WithCurrency(ReportRequest request, string? currency)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrEmpty(currency) || currency.Trim().Equals("USD", StringComparison.OrdinalIgnoreCase))
        {
            return Validated<ReportRequest>.Ok(request);
        }

        if (currencies is null)
        {
            return Validated<ReportRequest>.Fail("currency", "cannot be used: no exchange rates are configured (LlmCost:Currency:Rates)");
        }

        var rate = currencies.Convert(1m, currency, request.RateDay((time ?? TimeProvider.System).GetUtcNow()));
        return rate.Success
            ? Validated<ReportRequest>.Ok(request with { Currency = new ReportCurrency(rate.Currency, rate.Rate, rate.RateDate) })
            : Validated<ReportRequest>.Fail("currency", $"cannot be used: {rate.Error}");
    }

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

    /// <summary>
    /// The existing reports (day and month, USD and every currency) that include <paramref name="day"/>; what a GDPR
    /// erasure must rewrite. A currency report keeps the rate it states, so it is rewritten with the same one.
    /// </summary>
    public async Task<IReadOnlyList<ReportRequest>> ExistingReportsCoveringAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default)
    {
        var found = new List<ReportRequest>();
        foreach (var candidate in new[] { new ReportRequest(tenantId, ReportPeriod.Day, day), new ReportRequest(tenantId, ReportPeriod.Month, day) })
        {
            var folder = candidate.Folder(safeName(tenantId));
            var existing = await files.ListAsync(folder + candidate.BaseName + ".", cancellationToken).ConfigureAwait(false);
            if (existing.Count == 0)
            {
                continue;
            }

            if (existing.Any(f => f.Path[folder.Length..] is var name && name.StartsWith(candidate.BaseName + ".", StringComparison.Ordinal) && name.Count(c => c == '.') == 1))
            {
                found.Add(candidate);
            }

            foreach (var file in existing)
            {
                if (CurrencyFile().Match(file.Path[folder.Length..]) is { Success: true } match && match.Groups["base"].Value == candidate.BaseName
                    && await StatedCurrencyAsync(file.Path, cancellationToken).ConfigureAwait(false) is { } currency)
                {
                    found.Add(candidate with { Currency = currency });
                }
            }
        }

        return found;
    }

    /// <summary>The currency and rate a report's JSON states (null when it states none or cannot be read).</summary>
    private async Task<ReportCurrency?> StatedCurrencyAsync(string path, CancellationToken cancellationToken)
    {
        var content = await files.ReadAsync(path, cancellationToken).ConfigureAwait(false);
        if (content is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(content);
        if (!document.RootElement.TryGetProperty("currency", out var currency))
        {
            return null;
        }

        return new ReportCurrency(
            currency.GetProperty("code").GetString()!,
            decimal.Parse(currency.GetProperty("rate").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
            DateOnly.ParseExact(currency.GetProperty("rate_date").GetString()!, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
    }

    [GeneratedRegex("^(?<base>daily|monthly)\\.[a-z]{3}\\.json$")]
    private static partial Regex CurrencyFile();

    private string Prefix(string tenantId) => "reports/" + safeName(tenantId) + "/";
}
