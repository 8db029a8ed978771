using System.Runtime.CompilerServices;
using LlmCost.Core.Advice;
using LlmCost.Core.Capabilities;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Core.Tests.Advice;

/// <summary>The built-in catalogs, a clock at the end of November 2026, and helpers shared by the advice tests.</summary>
internal static class AdviceFixture
{
    public static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    public static ModelSelector Selector(string? settingsJson = null, string? policyJson = null)
    {
        PricingPolicy? policy = null;
        if (policyJson is not null)
        {
            PolicyLoadResult loaded = PricingPolicy.Load(policyJson, PriceCatalog.BuiltIn);
            Assert.True(loaded.IsValid, string.Join("; ", loaded.Errors));
            policy = loaded.Policy;
        }

        AdviceSettings? settings = null;
        if (settingsJson is not null)
        {
            AdviceSettingsLoad load = AdviceSettings.Load(settingsJson, PriceCatalog.BuiltIn);
            Assert.True(load.IsValid, string.Join("; ", load.Errors));
            settings = load.Settings;
        }

        return new ModelSelector(CapabilityCatalog.BuiltIn, new PricingEngine(PriceCatalog.BuiltIn, policy), settings, new FakeTimeProvider(Now));
    }
}

/// <summary>Recorded events held in memory behind the event store's read port (what the storage adapter answers from Table Storage).</summary>
internal sealed class InMemoryEventReader(IEnumerable<UsageEvent> events) : IUsageEventReader
{
    private readonly List<UsageEvent> _events = [.. events];

    public async IAsyncEnumerable<UsageEvent> ReadTenantDayAsync(string tenantId, DateOnly day, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (UsageEvent e in _events.Where(e => e.TenantId == tenantId && e.UtcDay == day))
        {
            await Task.Yield();
            yield return e;
        }
    }

    public IAsyncEnumerable<UsageEvent> ReadUserDaysAsync(string tenantId, string userId, DateOnly fromDay, DateOnly toDay, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public Task<IReadOnlyList<string>> ListUsersAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public Task<IReadOnlyCollection<UserDay>> PartitionsTouchedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public Task<UsageEventPage> ReadUserEventsPageAsync(string tenantId, string userId, DateTimeOffset from, DateTimeOffset to, int pageSize, string? continuationToken, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();
}
