using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>
/// Stand-in until a usage event store is registered: there are no events, so rollups, retention and GDPR have
/// nothing to read or delete (the timers succeed with nothing done). Replaced by the real adapters when present.
/// </summary>
internal sealed class MissingUsageStore : IUsageFactSource, IRawEventMaintenance
{
    public IAsyncEnumerable<UsageFact> ReadDayAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default) => AsyncEnumerable.Empty<UsageFact>();

    public Task<IReadOnlyCollection<TenantDay>> DaysTouchedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyCollection<TenantDay>>([]);

    public Task<IReadOnlyList<TenantDay>> DaysBeforeAsync(DateOnly cutoff, int max, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<TenantDay>>([]);

    public Task<int> DeleteDayAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default) => Task.FromResult(0);

    public IAsyncEnumerable<UsageFact> ReadUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default) => AsyncEnumerable.Empty<UsageFact>();

    public Task<IReadOnlyList<TenantDay>> DeleteUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<TenantDay>>([]);
}
