using Azure.Data.Tables;
using LlmCost.Core.Budgets;
using LlmCost.Storage.Usage;

namespace LlmCost.Storage.Budgets;

/// <summary>
/// Finds the settlement marker a recorded event wrote for a reservation, in the event partitions
/// (<c>tenant|user|day</c>) of the reservation's UTC day and the next one: a call happens within the reservation's
/// lifetime, which is far shorter than a day, so one of the two holds it.
/// </summary>
public sealed class TableSettlementMarkerSource(LlmCostStorage storage) : ISettlementMarkerSource
{
    public async Task<BudgetUsage?> FindAsync(ReservationRecord reservation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        var table = storage.Table(UsageTables.Events);
        var first = DateOnly.FromDateTime(reservation.CreatedAt.UtcDateTime);
        foreach (var day in new[] { first, first.AddDays(1) })
        {
            var row = await table.GetEntityIfExistsAsync<TableEntity>(
                StorageKeys.UserDayPartition(reservation.TenantId, reservation.UserId, day),
                ReservationSettlementContributor.MarkerRowKey(reservation.ReservationId),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            if (row.HasValue)
            {
                return ReservationSettlementContributor.FromMarker(reservation.TenantId, reservation.UserId, row.Value!.ToDictionary(p => p.Key, p => (object?)p.Value));
            }
        }

        return null;
    }
}
