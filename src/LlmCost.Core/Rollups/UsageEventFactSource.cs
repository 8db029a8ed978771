using System.Runtime.CompilerServices;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Rollups;

/// <summary>The rollups' view of the recorded usage events (<see cref="IUsageEventReader"/>).</summary>
public sealed class UsageEventFactSource(IUsageEventReader events) : IUsageFactSource
{
    public async IAsyncEnumerable<UsageFact> ReadDayAsync(string tenantId, DateOnly day, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var e in events.ReadTenantDayAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
        {
            // The tenant-day index is a superset (written before the events): keep exactly the day's events.
            if (e.UtcDay == day)
            {
                yield return ToFact(e);
            }
        }
    }

    public async Task<IReadOnlyCollection<TenantDay>> DaysTouchedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        var partitions = await events.PartitionsTouchedSinceAsync(since, cancellationToken).ConfigureAwait(false);
        return [.. partitions.Select(p => new TenantDay(p.TenantId, p.Day)).Distinct()];
    }

    public static UsageFact ToFact(UsageEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new UsageFact
        {
            EventId = e.EventId,
            TenantId = e.TenantId,
            TeamId = e.TeamId,
            UserId = e.UserId,
            Provider = e.Provider,
            Model = e.Model,
            Timestamp = e.Timestamp,
            CostUsd = e.CostUsd,
            InputTokens = e.Usage.InputTokens,
            OutputTokens = e.Usage.OutputTokens,
            Units = UsageTotals.Of(e).Units,
            ReportedCostUsd = e.ReportedCostUsd,
            Priced = e.Priced,
            Succeeded = e.Succeeded,
        };
    }
}
