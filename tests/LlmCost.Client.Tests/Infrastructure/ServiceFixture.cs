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

    public async Task InitializeAsync()
    {
        Host = await LlmCostTestHost.StartAsync(o => o.Time = Time);
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
