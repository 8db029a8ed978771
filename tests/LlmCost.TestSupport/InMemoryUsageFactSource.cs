using LlmCost.Core.Rollups;

namespace LlmCost.Tests.Shared;

/// <summary>
/// Raw events held by the test, with their write (processing) time, as the usage event store reports them and the
/// days they touched. Shared by the Storage and Functions test projects (LlmCost.TestSupport).
/// </summary>
public sealed class InMemoryUsageFactSource(TimeProvider time) : IUsageFactSource
{
    private readonly List<(UsageFact Fact, DateTimeOffset WrittenAt)> _events = [];

    public IReadOnlyList<UsageFact> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events.Select(e => e.Fact)];
            }
        }
    }

    public void Add(UsageFact fact)
    {
        lock (_events)
        {
            _events.Add((fact, time.GetUtcNow()));
        }
    }

    public async IAsyncEnumerable<UsageFact> ReadDayAsync(string tenantId, DateOnly day, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        foreach (var fact in Events.Where(e => e.TenantId == tenantId && DateOnly.FromDateTime(e.Timestamp.UtcDateTime) == day))
        {
            yield return fact;
        }
    }

    public Task<IReadOnlyCollection<TenantDay>> DaysTouchedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        lock (_events)
        {
            return Task.FromResult<IReadOnlyCollection<TenantDay>>(
                [.. _events.Where(e => e.WrittenAt >= since).Select(e => new TenantDay(e.Fact.TenantId, DateOnly.FromDateTime(e.Fact.Timestamp.UtcDateTime))).Distinct()]);
        }
    }
}
