using System.Globalization;

namespace LlmCost.Core.Budgets;

/// <summary>One budget period, [Start, End). The key names it uniquely (its UTC start), so a repeated local hour
/// on a fall-back night is two periods, and a rolling period never collides with a calendar one of another budget.</summary>
public readonly record struct PeriodWindow(DateTimeOffset Start, DateTimeOffset End)
{
    public string Key => Start.UtcDateTime.ToString("yyyyMMdd'T'HHmm'Z'", CultureInfo.InvariantCulture);

    public TimeSpan Length => End - Start;

    public bool Contains(DateTimeOffset instant) => instant >= Start && instant < End;
}

/// <summary>
/// Computes the period that contains an instant. Calendar periods follow the local calendar of an IANA zone, so a
/// day is 23 or 25 hours on DST change days; a local start that does not exist (a spring-forward gap) starts at the
/// first instant after the gap, an ambiguous one (fall back) at its first occurrence. Monthly rolling periods keep
/// the anchor's day of month and clamp it to short months (Jan 31 → Feb 28/29 → Mar 31).
/// </summary>
public static class BudgetPeriodCalculator
{
    public static PeriodWindow? WindowFor(BudgetDefinition budget, DateTimeOffset instant)
    {
        ArgumentNullException.ThrowIfNull(budget);
        if (!budget.IsStateful)
        {
            return null;
        }

        return WindowFor(budget.Period, budget.Alignment, FindZone(budget.TimeZone), budget.CreatedAt, instant);
    }

    public static TimeZoneInfo FindZone(string timeZoneId) => TimeZoneInfo.FindSystemTimeZoneById(timeZoneId);

    public static bool IsKnownZone(string? timeZoneId)
    {
        if (string.IsNullOrWhiteSpace(timeZoneId))
        {
            return false;
        }

        return TimeZoneInfo.TryFindSystemTimeZoneById(timeZoneId, out _);
    }

    public static PeriodWindow WindowFor(
        BudgetPeriod period,
        PeriodAlignment alignment,
        TimeZoneInfo zone,
        DateTimeOffset anchor,
        DateTimeOffset instant)
    {
        ArgumentNullException.ThrowIfNull(zone);
        if (period == BudgetPeriod.PerRequest)
        {
            throw new ArgumentOutOfRangeException(nameof(period), "A per-request budget has no period window.");
        }

        return alignment == PeriodAlignment.Calendar
            ? CalendarWindow(period, zone, instant)
            : RollingWindow(period, zone, anchor, instant);
    }

    private static PeriodWindow CalendarWindow(BudgetPeriod period, TimeZoneInfo zone, DateTimeOffset instant)
    {
        if (period == BudgetPeriod.Hourly)
        {
            // Local hours under the offset in force at the instant: the two 02:00 hours of a fall-back night are
            // two distinct hours, and half-hour zones (Asia/Kolkata) start hours at :30 UTC.
            var offset = zone.GetUtcOffset(instant);
            var local = instant.ToOffset(offset);
            var start = new DateTimeOffset(local.Year, local.Month, local.Day, local.Hour, 0, 0, offset);
            return new PeriodWindow(start, start.AddHours(1));
        }

        var localDate = TimeZoneInfo.ConvertTime(instant, zone).Date;
        DateTime first;
        DateTime next;
        switch (period)
        {
            case BudgetPeriod.Daily:
                first = localDate;
                next = localDate.AddDays(1);
                break;
            case BudgetPeriod.Weekly:
                // ISO weeks: Monday to Sunday.
                first = localDate.AddDays(-(((int)localDate.DayOfWeek + 6) % 7));
                next = first.AddDays(7);
                break;
            case BudgetPeriod.Monthly:
                first = new DateTime(localDate.Year, localDate.Month, 1, 0, 0, 0, DateTimeKind.Unspecified);
                next = first.AddMonths(1);
                break;
            case BudgetPeriod.Yearly:
                first = new DateTime(localDate.Year, 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
                next = first.AddYears(1);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(period), period, "Unknown period.");
        }

        return new PeriodWindow(LocalToInstant(first, zone), LocalToInstant(next, zone));
    }

    private static PeriodWindow RollingWindow(BudgetPeriod period, TimeZoneInfo zone, DateTimeOffset anchor, DateTimeOffset instant)
    {
        TimeSpan? fixedLength = period switch
        {
            BudgetPeriod.Hourly => TimeSpan.FromHours(1),
            BudgetPeriod.Daily => TimeSpan.FromDays(1),
            BudgetPeriod.Weekly => TimeSpan.FromDays(7),
            _ => null,
        };
        if (fixedLength is { } length)
        {
            var n = Math.Floor((double)(instant - anchor).Ticks / length.Ticks);
            var start = anchor + TimeSpan.FromTicks((long)n * length.Ticks);
            // Guard against floating-point rounding at exact boundaries.
            if (start > instant)
            {
                start -= length;
            }
            else if (start + length <= instant)
            {
                start += length;
            }

            return new PeriodWindow(start, start + length);
        }

        var step = period == BudgetPeriod.Yearly ? 12 : 1;
        var anchorLocal = TimeZoneInfo.ConvertTime(anchor, zone).DateTime;
        var instantLocal = TimeZoneInfo.ConvertTime(instant, zone).DateTime;
        var months = ((instantLocal.Year - anchorLocal.Year) * 12) + (instantLocal.Month - anchorLocal.Month);
        var k = (int)Math.Floor(months / (double)step);
        // Each boundary is computed from the anchor (AddMonths(k)), never from the previous boundary, so a
        // clamped Feb 28 does not drag March to the 28th.
        while (LocalToInstant(anchorLocal.AddMonths(k * step), zone) > instant)
        {
            k--;
        }

        while (LocalToInstant(anchorLocal.AddMonths((k + 1) * step), zone) <= instant)
        {
            k++;
        }

        return new PeriodWindow(
            LocalToInstant(anchorLocal.AddMonths(k * step), zone),
            LocalToInstant(anchorLocal.AddMonths((k + 1) * step), zone));
    }

    /// <summary>The instant a local wall-clock time denotes in a zone; gaps map to the end of the gap, overlaps to the first occurrence.</summary>
    public static DateTimeOffset LocalToInstant(DateTime local, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        local = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
        if (zone.IsInvalidTime(local))
        {
            // The clock jumped over this time (a period can only start at the first instant that exists).
            var before = zone.GetUtcOffset(local.AddHours(-6));
            return FirstInstantAfterGap(local, zone, before);
        }

        if (zone.IsAmbiguousTime(local))
        {
            var offsets = zone.GetAmbiguousTimeOffsets(local);
            var largest = offsets.Max();
            return new DateTimeOffset(local, largest).ToUniversalTime();
        }

        return new DateTimeOffset(local, zone.GetUtcOffset(local)).ToUniversalTime();
    }

    private static DateTimeOffset FirstInstantAfterGap(DateTime local, TimeZoneInfo zone, TimeSpan offsetBefore)
    {
        // Walk back to the last valid local minute before the gap; one minute after it (in the old offset) is the
        // transition instant, which is the first instant of the new offset.
        var probe = local;
        for (var i = 0; i < 24 * 60 && zone.IsInvalidTime(probe); i++)
        {
            probe = probe.AddMinutes(-1);
        }

        var lastValid = new DateTimeOffset(probe, offsetBefore);
        return lastValid.AddMinutes(1).ToUniversalTime();
    }
}
