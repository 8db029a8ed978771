using LlmCost.Core.Recording;
using LlmCost.Core.Retention;

namespace LlmCost.Core.Budgets;

/// <summary>
/// Where a budget created mid-period starts: the usage summaries' hour buckets of its subject (tenant, team or user)
/// from the hour the period began up to now. Events carry no key id in the summaries, so a key budget starts
/// from zero. Hour buckets are UTC hours: for a period that starts inside an hour (a time zone with a :30 or :45
/// offset), that whole first hour counts, the safe side for a limit. Daily history (the forecaster's input) comes
/// from the same summaries, and from the rollups for days past raw retention.
/// </summary>
public sealed class UsageSummarySpendHistory(IUsageSummaryReader summaries, TimeProvider time, ArchivedUsage? archive = null) : IBudgetSpendHistory
{
    private readonly UsageQueryService _days = new(summaries, archive);

    public async Task<RecordedSpend> ReadAsync(string tenantId, BudgetScope scope, string subject, DateTimeOffset from, CancellationToken cancellationToken = default)
    {
        var usageScope = ScopeOf(tenantId, scope, subject);
        // Taken before the read: every event acknowledged before it and already projected is in the buckets read.
        var cutoff = time.GetUtcNow();
        if (usageScope is not { } s || from >= cutoff)
        {
            return RecordedSpend.None(cutoff);
        }

        var firstHour = new DateTimeOffset(from.UtcDateTime.Year, from.UtcDateTime.Month, from.UtcDateTime.Day, from.UtcDateTime.Hour, 0, 0, TimeSpan.Zero);
        var buckets = await summaries.ReadBucketsAsync(
            s, DateOnly.FromDateTime(firstHour.UtcDateTime), DateOnly.FromDateTime(cutoff.UtcDateTime), cancellationToken).ConfigureAwait(false);
        var totals = buckets.Where(b => b.HourStart >= firstHour && b.HourStart <= cutoff)
            .Aggregate(UsageTotals.Zero, (sum, b) => sum + b.Totals);
        return new RecordedSpend(cutoff, totals.CostUsd, totals.InputTokens + totals.OutputTokens, totals.Events, totals.UnpricedEvents);
    }

    public async Task<IReadOnlyList<RecordedDay>> ReadDailyAsync(
        string tenantId, BudgetScope scope, string subject, DateOnly fromDay, DateOnly toDay, CancellationToken cancellationToken = default)
    {
        if (ScopeOf(tenantId, scope, subject) is not { } s || toDay < fromDay)
        {
            return [];
        }

        var result = await _days.QueryAsync(
            s, Midnight(fromDay), Midnight(toDay.AddDays(1)), UsageGranularity.Day, UsageGroupBy.None, cancellationToken).ConfigureAwait(false);
        return [.. result.Report.Series.Select(p => new RecordedDay(
            DateOnly.FromDateTime(p.PeriodStart.UtcDateTime), p.Totals.CostUsd, p.Totals.InputTokens + p.Totals.OutputTokens))];
    }

    private static DateTimeOffset Midnight(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    private static UsageScope? ScopeOf(string tenantId, BudgetScope scope, string subject) => scope switch
    {
        BudgetScope.Tenant => UsageScope.Tenant(tenantId),
        BudgetScope.Team => UsageScope.Team(tenantId, subject),
        BudgetScope.User => UsageScope.User(tenantId, subject),
        _ => null,
    };
}
