using System.Globalization;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Reports;

/// <summary>A report a caller asks for: a day or a calendar month containing <see cref="Date"/>.</summary>
public sealed record ReportQuery(ReportPeriod Period, DateOnly Date)
{
    public string PeriodName => Period == ReportPeriod.Day ? "day" : "month";

    public ReportRequest For(string tenantId) => new(tenantId, Period, Date);

    /// <summary>Reads the wire fields (period "day"/"month", date yyyy-MM-dd), every problem at once.</summary>
    public static Validated<ReportQuery> Parse(string? period, string? date)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (period is not ("day" or "month"))
        {
            errors["period"] = ["period must be \"day\" or \"month\""];
        }

        if (!DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            errors["date"] = ["date must be a yyyy-MM-dd date"];
        }
        else if (!QueryDates.InRange(day))
        {
            errors["date"] = [$"date {QueryDates.Problem}"];
        }

        return errors.Count > 0
            ? Validated<ReportQuery>.Fail(errors)
            : Validated<ReportQuery>.Ok(new ReportQuery(period == "day" ? ReportPeriod.Day : ReportPeriod.Month, day));
    }
}
