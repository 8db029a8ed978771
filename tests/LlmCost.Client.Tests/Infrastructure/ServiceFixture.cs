using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Client.Tests.Infrastructure;

/// <summary>
/// One real service per test class (starting one is the slow part). It runs on a clock the tests can advance
/// (reservation expiry), started at the real time so the clients' real timestamps are accepted.
/// </summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public LlmCostTestHost Host { get; private set; } = null!;

    /// <summary>Whether this service build has a reservation release endpoint (else reservations end at expiry).</summary>
    public bool ReleaseSupported { get; private set; }

    public async Task InitializeAsync()
    {
        Host = await LlmCostTestHost.StartAsync(o => o.Time = Time);
        await using LlmCostClient probe = LlmCostClient.Create(
            ServiceScenario.ClientOptions(Host.BaseAddress, LlmCostTestHost.AdminKey, "probe"));
        ReleaseSupported = await probe.ReleaseAsync("rsv-probe-" + Guid.NewGuid().ToString("N"), "probe") != ReleaseOutcome.NotSupported;
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
