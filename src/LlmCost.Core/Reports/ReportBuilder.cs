using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Reports;

public enum ReportPeriod
{
    Day,
    Month,
}

/// <summary>What a report covers: one tenant, one UTC day or month.</summary>
public sealed record ReportRequest(string TenantId, ReportPeriod Period, DateOnly Date)
{
    public DateTimeOffset Start => Period == ReportPeriod.Day
        ? RollupPeriods.StartOfDay(Date)
        : new DateTimeOffset(Date.Year, Date.Month, 1, 0, 0, 0, TimeSpan.Zero);

    public DateTimeOffset End => Period == ReportPeriod.Day ? Start.AddDays(1) : Start.AddMonths(1);

    /// <summary>The rows a report is made of: hours for a day, days for a month.</summary>
    public RollupGranularity BucketGranularity => Period == ReportPeriod.Day ? RollupGranularity.Hour : RollupGranularity.Day;

    /// <summary>"reports/{tenant}/{yyyy}/{MM}/{dd}/" (a month report lives under its first day).</summary>
    public string Folder(string safeTenant) =>
        string.Create(CultureInfo.InvariantCulture, $"reports/{safeTenant}/{Start:yyyy}/{Start:MM}/{Start:dd}/");

    /// <summary>Costs also in another currency (files of their own next to the USD ones); null = USD only.</summary>
    public ReportCurrency? Currency { get; init; }

    /// <summary>"daily"/"monthly", plus ".eur" for a report in another currency ("daily.eur.csv").</summary>
    public string BaseName => (Period == ReportPeriod.Day ? "daily" : "monthly") + (Currency is null ? string.Empty : "." + Currency.Code.ToLowerInvariant());

    /// <summary>The UTC date whose rate converts this report: its last day, or today while the period runs.</summary>
    public DateOnly RateDay(DateTimeOffset now) => DateOnly.FromDateTime((End < now ? End : now).UtcDateTime.AddTicks(-1));
}

/// <summary>
/// A report's costs shown in another currency next to USD (the stored truth): one dated rate from configuration for
/// the whole report, stated in it, so a regenerated report (a GDPR erasure) converts exactly as the original did.
/// </summary>
/// <param name="Rate">Units of <paramref name="Code"/> per USD.</param>
public sealed record ReportCurrency(string Code, decimal Rate, DateOnly RateDate)
{
    public decimal Convert(decimal usd) => CurrencyConverter.RoundToMinorUnit(usd * Rate, Code);

    public string Description => string.Create(CultureInfo.InvariantCulture, $"{Rate} {Code}/USD of {RateDate:yyyy-MM-dd} (configuration LlmCost:Currency:Rates)");
}

public sealed record ReportTotals(long Requests, long Errors, long UnpricedRequests, long InputTokens, long OutputTokens, decimal CostUsd);

public sealed record ReportFile(string Name, string ContentType, byte[] Content);

public sealed record Report(ReportRequest Request, ReportTotals Totals, IReadOnlyList<ReportFile> Files)
{
    /// <summary>The total cost in the report's currency (null for a USD-only report).</summary>
    public decimal? Cost => Request.Currency?.Convert(Totals.CostUsd);
}

/// <summary>
/// Builds a report's CSV, JSON and SVG chart from rollup rows. Deterministic: the same rows give byte-identical files
/// (sorted rows, invariant culture, no generation timestamp inside the content).
/// </summary>
public static class ReportBuilder
{
    /// <remarks>The last column lists every other usage unit as <c>key=count</c> pairs separated by <c>;</c> (image, audio,
    /// cache and tool classes, durations, pages, ...), so the column set stays fixed whatever the traffic.</remarks>
    public const string CsvHeader = "period_start,dimension,key,requests,errors,unpriced_requests,input_tokens,output_tokens,cost_usd,units";

    public static Report Build(ReportRequest request, IEnumerable<RollupRow> bucketRows)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(bucketRows);
        var rows = bucketRows
            .Where(r => r.Granularity == request.BucketGranularity && r.PeriodStart >= request.Start && r.PeriodStart < request.End)
            .OrderBy(r => r.PeriodStart)
            .ThenBy(r => r.Dimension, StringComparer.Ordinal)
            .ThenBy(r => r.Key, StringComparer.Ordinal)
            .ToList();
        var tenantRows = rows.Where(r => r.Dimension == RollupDimensions.Tenant).ToList();
        var totals = new ReportTotals(
            tenantRows.Sum(r => r.Requests), tenantRows.Sum(r => r.Errors), tenantRows.Sum(r => r.UnpricedRequests),
            tenantRows.Sum(r => r.InputTokens), tenantRows.Sum(r => r.OutputTokens), tenantRows.Sum(r => r.CostUsd));

        return new Report(request, totals,
        [
            new ReportFile(request.BaseName + ".csv", "text/csv; charset=utf-8", Csv(rows, request.Currency)),
            new ReportFile(request.BaseName + ".json", "application/json", Json(request, totals, rows)),
            new ReportFile(request.BaseName + ".svg", "image/svg+xml", Svg(request, tenantRows)),
        ]);
    }

    /// <summary>The units beyond the input/output token columns, in registry order.</summary>
    private static IEnumerable<KeyValuePair<string, long>> OtherUnits(Usage.CanonicalUsage units) =>
        units.ToDictionary().Where(u => u.Key is not ("input_tokens" or "output_tokens" or "requests"))
            .OrderBy(u => Pricing.UsageUnits.Get(u.Key).Index);

    /// <summary>A report in another currency adds one last column, <c>cost_{code}</c> (the rate is stated in its JSON).</summary>
    private static byte[] Csv(List<RollupRow> rows, ReportCurrency? currency)
    {
        var csv = new StringBuilder(CsvHeader);
        if (currency is not null)
        {
            csv.Append(",cost_").Append(currency.Code.ToLowerInvariant());
        }

        csv.Append('\n');
        foreach (var r in rows)
        {
            csv.Append(Time(r.PeriodStart)).Append(',')
                .Append(r.Dimension).Append(',')
                .Append(CsvField(r.Key)).Append(',')
                .Append(Invariant(r.Requests)).Append(',')
                .Append(Invariant(r.Errors)).Append(',')
                .Append(Invariant(r.UnpricedRequests)).Append(',')
                .Append(Invariant(r.InputTokens)).Append(',')
                .Append(Invariant(r.OutputTokens)).Append(',')
                .Append(MoneyFormat.Format(r.CostUsd)).Append(',')
                .Append(string.Join(';', OtherUnits(r.Units).Select(u => $"{u.Key}={Invariant(u.Value)}")));
            if (currency is not null)
            {
                csv.Append(',').Append(MoneyFormat.Format(currency.Convert(r.CostUsd)));
            }

            csv.Append('\n');
        }

        return Encoding.UTF8.GetBytes(csv.ToString());
    }

    private static byte[] Json(ReportRequest request, ReportTotals totals, List<RollupRow> rows)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("tenant_id", request.TenantId);
            json.WriteString("period", request.Period == ReportPeriod.Day ? "day" : "month");
            json.WriteString("start", Time(request.Start));
            json.WriteString("end", Time(request.End));
            if (request.Currency is { } currency)
            {
                json.WriteStartObject("currency");
                json.WriteString("code", currency.Code);
                json.WriteString("rate", currency.Rate.ToString(CultureInfo.InvariantCulture));
                json.WriteString("rate_date", currency.RateDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                json.WriteString("description", currency.Description);
                json.WriteEndObject();
            }

            json.WriteStartObject("totals");
            WriteFigures(json, totals.Requests, totals.Errors, totals.UnpricedRequests, totals.InputTokens, totals.OutputTokens, totals.CostUsd, request.Currency);
            json.WriteEndObject();
            json.WriteStartArray("rows");
            foreach (var r in rows)
            {
                json.WriteStartObject();
                json.WriteString("period_start", Time(r.PeriodStart));
                json.WriteString("dimension", r.Dimension);
                json.WriteString("key", r.Key);
                WriteFigures(json, r.Requests, r.Errors, r.UnpricedRequests, r.InputTokens, r.OutputTokens, r.CostUsd, request.Currency);
                json.WriteStartObject("units");
                Usage.CanonicalUsageParser.Write(json, r.Units);
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteString("attribution", "generated by LlmCostFunctions from rollups");
            json.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static void WriteFigures(Utf8JsonWriter json, long requests, long errors, long unpriced, long input, long output, decimal cost, ReportCurrency? currency)
    {
        json.WriteNumber("requests", requests);
        json.WriteNumber("errors", errors);
        json.WriteNumber("unpriced_requests", unpriced);
        json.WriteNumber("input_tokens", input);
        json.WriteNumber("output_tokens", output);
        json.WriteString("cost_usd", MoneyFormat.Format(cost));
        if (currency is not null)
        {
            json.WriteString("cost", MoneyFormat.Format(currency.Convert(cost)));
        }
    }

    /// <summary>A bar chart of the tenant's cost per bucket (hour or day), hand-written SVG.</summary>
    private static byte[] Svg(ReportRequest request, List<RollupRow> tenantRows)
    {
        const int width = 800, height = 320, left = 70, right = 20, top = 40, bottom = 40;
        var buckets = new List<DateTimeOffset>();
        for (var t = request.Start; t < request.End; t = RollupPeriods.Next(request.BucketGranularity, t))
        {
            buckets.Add(t);
        }

        var costs = buckets.Select(b => tenantRows.Where(r => r.PeriodStart == b).Sum(r => r.CostUsd)).ToList();
        var max = costs.Count == 0 ? 0m : costs.Max();
        var scale = max > 0 ? max : 1m;
        var plotWidth = width - left - right;
        var plotHeight = height - top - bottom;
        var barWidth = (double)plotWidth / buckets.Count;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<title>{Escape(request.TenantId)} cost per {(request.Period == ReportPeriod.Day ? "hour" : "day")}, {Time(request.Start)}</title>\n");
        var converted = request.Currency is { } c
            ? string.Create(CultureInfo.InvariantCulture, $" = {MoneyFormat.Format(c.Convert(costs.Sum()))} {c.Code} at {c.Rate} {c.Code}/USD of {c.RateDate:yyyy-MM-dd}")
            : string.Empty;
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"20\" font-size=\"14\">{Escape(request.TenantId)}: {MoneyFormat.Format(costs.Sum())} USD{Escape(converted)} ({(request.Period == ReportPeriod.Day ? request.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : request.Start.ToString("yyyy-MM", CultureInfo.InvariantCulture))})</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top + plotHeight}\" x2=\"{width - right}\" y2=\"{top + plotHeight}\" stroke=\"#333\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{top + plotHeight}\" stroke=\"#333\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 5}\" y=\"{top + 4}\" text-anchor=\"end\">{MoneyFormat.Format(Math.Round(max, 4))}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 5}\" y=\"{top + plotHeight}\" text-anchor=\"end\">0</text>\n");
        for (var i = 0; i < buckets.Count; i++)
        {
            var h = (double)(costs[i] / scale) * plotHeight;
            var x = left + (i * barWidth) + 1;
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:0.##}\" y=\"{top + plotHeight - h:0.##}\" width=\"{Math.Max(1, barWidth - 2):0.##}\" height=\"{h:0.##}\" fill=\"#3b6ea5\"><title>{Time(buckets[i])}: {MoneyFormat.Format(costs[i])} USD</title></rect>\n");
            var label = request.Period == ReportPeriod.Day ? buckets[i].Hour : buckets[i].Day;
            if (request.Period == ReportPeriod.Month || label % 3 == 0)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + (barWidth / 2):0.##}\" y=\"{top + plotHeight + 15}\" text-anchor=\"middle\">{label}</text>\n");
            }
        }

        svg.Append("</svg>\n");
        return Encoding.UTF8.GetBytes(svg.ToString());
    }

    private static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>RFC 4180 quoting; a leading = + - @ is neutralised so a spreadsheet never runs a key as a formula.</summary>
    internal static string CsvField(string value)
    {
        var safe = value.Length > 0 && "=+-@".Contains(value[0], StringComparison.Ordinal) ? "'" + value : value;
        return safe.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + safe.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : safe;
    }

    private static string Escape(string value) =>
        value.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
