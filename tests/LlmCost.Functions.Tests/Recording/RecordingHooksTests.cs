using System.Collections.Concurrent;
using System.Text.Json;
using LlmCost.Core.Recording;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using LlmCost.Storage.Recording;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Recording;

/// <summary>The hooks other modules use: observers hear about new events (at least once, never a duplicate send); raw provider usage is normalised.</summary>
public sealed class RecordingHooksTests : IAsyncLifetime
{
    private readonly RecordingObserver _observer = new();
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o =>
    {
        o.Time = new FakeTimeProvider(new DateTimeOffset(2025, 3, 15, 12, 0, 0, TimeSpan.Zero));
        o.ConfigureServices = s => s.AddSingleton<IUsageRecordedObserver>(_observer);
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task ObserversHearAboutRecordedEventsButNotDuplicates()
    {
        // A reservation_id must be a real reservation of the same user (else the request is refused before recording).
        await _host.Client.PostAsync("api/budgets", new { tenant_id = "acme", scope = "user", scope_id = "olga", amount_usd = "1", period = "daily", mode = "hard" });
        (_, JsonElement authorised) = await _host.Client.PostAsync("api/budgets/authorize", new { tenant_id = "acme", user_id = "olga", provider = "openai", model = "gpt-4o", input_tokens = 10, max_tokens = 10 });
        string reservation = authorised.GetProperty("reservation_id").GetString()!;
        object e1 = new { event_id = "o1", tenant_id = "acme", user_id = "olga", model = "gpt-4o", reservation_id = reservation, usage = new { input_tokens = 10, output_tokens = 1 } };
        object e2 = new { event_id = "o2", tenant_id = "acme", user_id = "olga", model = "gpt-4o", usage = new { input_tokens = 20, output_tokens = 2 } };
        await _host.Client.PostAsync("api/usage", new { events = new[] { e1 } });
        await _host.Client.PostAsync("api/usage", new { events = new[] { e1, e2 } });
        // Observers are called by the projector, off the request; reads wait for it, observers are waited for here.
        await _host.Services.GetRequiredService<UsageProjector>().DrainAsync();

        Assert.Equal(["o1", "o2"], _observer.Seen.Select(e => e.EventId).Order().ToArray());
        UsageEvent settled = _observer.Seen.Single(e => e.EventId == "o1");
        Assert.Equal(reservation, settled.ReservationId);
        Assert.True(settled.Priced);
    }

    [Fact]
    public async Task RawOpenAiUsageIsNormalisedBeforePricing()
    {
        // OpenAI chat: prompt_tokens INCLUDES the 400 cached tokens: 600 × 2.50 + 400 × 1.25 + 100 × 10.00 per million.
        (int status, JsonElement body) = await _host.Client.PostAsync("api/usage", new
        {
            event_id = "raw-1", tenant_id = "acme", user_id = "rita", provider = "openai", model = "gpt-4o",
            raw_usage = new { prompt_tokens = 1000, completion_tokens = 100, total_tokens = 1100, prompt_tokens_details = new { cached_tokens = 400 } },
        });
        Assert.Equal(200, status);
        Assert.Equal(0.003m, body.Money("cost_usd"));
    }

    private sealed class RecordingObserver : IUsageRecordedObserver
    {
        public ConcurrentBag<UsageEvent> Seen { get; } = [];

        public Task OnRecordedAsync(IReadOnlyList<UsageEvent> recorded, CancellationToken cancellationToken = default)
        {
            foreach (UsageEvent e in recorded)
            {
                Seen.Add(e);
            }

            return Task.CompletedTask;
        }
    }
}
