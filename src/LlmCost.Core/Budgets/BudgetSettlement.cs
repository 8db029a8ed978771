using System.Globalization;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Budgets;

/// <summary>
/// Settles budget reservations from recorded usage. Two halves, because the event's partition (tenant|user|day)
/// and the budget's partition (tenant) cannot share one transaction:
/// <list type="number">
/// <item><see cref="ReservationSettlementContributor"/> writes a settlement marker row for the event's
/// reservation IN the event's transaction: the settlement is durable exactly when the event is.</item>
/// <item><see cref="BudgetUsageObserver"/>, after the commit, applies the event to the budget ledger
/// (idempotent per event id and per reservation). If that step is lost (crash, outage), the reservation keeps
/// counting (the safe side) until the expiry timer finds the marker and settles it with the actual cost.</item>
/// </list>
/// </summary>
public sealed class ReservationSettlementContributor : IPartitionContributor
{
    public const string MarkerPrefix = PartitionRowOperation.RowKeyPrefix + "rsv|";

    public static string MarkerRowKey(string reservationId) => MarkerPrefix + reservationId;

    /// <summary>Reservation ids this service issues ("rsv_" + 32 hex): anything else cannot be ours and gets no marker.</summary>
    public static bool IsReservationId(string? id) =>
        id is { Length: 36 } && id.StartsWith("rsv_", StringComparison.Ordinal) && id.AsSpan(4).ContainsAnyExcept("0123456789abcdef") is false;

    public async Task<IReadOnlyList<PartitionRowOperation>> ContributeAsync(PartitionBatch batch, IPartitionRowReader rows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(rows);
        var operations = new List<PartitionRowOperation>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in batch.Events)
        {
            if (!IsReservationId(e.ReservationId) || !seen.Add(e.ReservationId!) || operations.Count >= PartitionRowOperation.MaxPerBatch)
            {
                continue;
            }

            // A reservation settled earlier (by another event) keeps its first marker.
            var key = MarkerRowKey(e.ReservationId!);
            if (await rows.ReadAsync(key, cancellationToken).ConfigureAwait(false) is not null)
            {
                continue;
            }

            operations.Add(new PartitionRowOperation(PartitionRowOperationKind.Add, key, new Dictionary<string, object?>
            {
                ["Kind"] = "budget_settlement",
                ["ReservationId"] = e.ReservationId,
                ["EventId"] = e.EventId,
                ["TeamId"] = e.TeamId,
                ["CostUsd"] = e.CostUsd.ToString(CultureInfo.InvariantCulture),
                ["Priced"] = e.Priced,
                ["Tokens"] = e.Usage.TotalTokens,
                ["EventTimestamp"] = e.Timestamp,
            }));
        }

        return operations;
    }

    /// <summary>Reads a marker row back (for the expiry timer's safety net).</summary>
    public static BudgetUsage? FromMarker(string tenantId, string userId, IReadOnlyDictionary<string, object?> properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        if (properties.GetValueOrDefault("EventId") is not string eventId
            || properties.GetValueOrDefault("ReservationId") is not string reservationId
            || properties.GetValueOrDefault("CostUsd") is not string cost
            || properties.GetValueOrDefault("EventTimestamp") is not DateTimeOffset timestamp)
        {
            return null;
        }

        return new BudgetUsage(
            tenantId,
            userId,
            properties.GetValueOrDefault("TeamId") as string,
            null,
            eventId,
            reservationId,
            timestamp,
            decimal.Parse(cost, CultureInfo.InvariantCulture),
            properties.GetValueOrDefault("Priced") as bool? ?? false,
            properties.GetValueOrDefault("Tokens") switch { long l => l, int i => i, _ => 0 });
    }
}

/// <summary>Counts every newly recorded event against the budgets and settles its reservation.</summary>
public sealed class BudgetUsageObserver(BudgetService budgets) : IUsageRecordedObserver
{
    public Task OnRecordedAsync(IReadOnlyList<UsageEvent> recorded, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        // Concurrent calls for one tenant are coalesced by the ledger into one transaction.
        return Task.WhenAll(recorded.Select(e => budgets.RecordUsageAsync(
            new BudgetUsage(e.TenantId, e.UserId, e.TeamId, null, e.EventId, e.ReservationId, e.Timestamp, e.CostUsd, e.Priced, e.Usage.TotalTokens),
            cancellationToken)));
    }
}
