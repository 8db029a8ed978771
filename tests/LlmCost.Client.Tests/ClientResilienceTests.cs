using LlmCost.Client.Tests.Infrastructure;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmCost.Client.Tests;

/// <summary>
/// The client against the real service when the network and the service misbehave: lost answers and refused
/// connections (retries never double count), the service down for a while (the app is not blocked, events wait in
/// a bounded buffer and arrive once when it is back), and a buffer that overflows or is still full at shutdown
/// (dropped events are counted and reported, memory stays bounded).
/// </summary>
public sealed class ClientResilienceTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    private const decimal CallCost = 0.00045m; // gpt-4o-mini, 1,000 in + 500 out
    private readonly LlmCostTestHost _host = service.Host;

    private static UsageEvent Event(string user) => new()
    {
        UserId = user,
        Provider = "openai",
        Model = "gpt-4o-mini",
        Usage = new Dictionary<string, long> { [UsageKeys.InputTokens] = 1000, [UsageKeys.OutputTokens] = 500 },
    };

    [Fact]
    public async Task Retries_through_lost_answers_and_refused_connections_never_count_twice()
    {
        const string tenant = "retry";
        string key = await _host.CreateKeyAsync("ingest", tenant);
        var faults = new FaultInjectingHandler(seed: 17, refuse: 0.15, loseResponse: 0.3, abort: 0.1);
        LlmCostClientOptions options = ServiceScenario.ClientOptions(_host.BaseAddress, key, tenant);
        options.MaxRetryAttempts = 12;
        options.CircuitBreakerMinimumThroughput = 100_000; // this test is about retries, not about giving up
        await using var client = new LlmCostClient(new HttpClient(faults) { Timeout = Timeout.InfiniteTimeSpan }, options);

        for (int i = 0; i < 30; i++)
        {
            RecordResult result = await client.RecordAsync(Event("retry-user"));
            Assert.Equal(CallCost, result.CostUsd); // recorded now, or answered as the duplicate of the lost first try
        }

        RecordBatchResult batch = await client.RecordBatchAsync(Enumerable.Range(0, 120).Select(_ => Event("retry-user")).ToList());
        Assert.Equal(120, batch.Recorded + batch.Duplicates);
        for (int i = 0; i < 50; i++)
        {
            Assert.True(client.Enqueue(Event("retry-user")));
        }

        await client.FlushAsync();

        Assert.True(faults.LostResponses > 0 && faults.Refused > 0, "the faults must have happened for this test to mean anything");
        Assert.Equal((200 * CallCost, 200L, 200_000L, 100_000L), await ServiceScenario.UsageAsync(_host, tenant, "retry-user"));
        Assert.Equal(50, client.Statistics.Recorded + client.Statistics.Duplicates);

        // Authorisations whose answers are lost are retried with the same request id: one reservation each.
        string budget = await ServiceScenario.CreateUserBudgetAsync(_host, tenant, "retry-user", "100");
        for (int i = 0; i < 10; i++)
        {
            AuthorizeResponse decision = await client.AuthorizeAsync(new AuthorizeRequest
            {
                UserId = "retry-user", Provider = "openai", Model = "gpt-4o-mini", InputTokens = 1000, MaxTokens = 1000,
            });
            Assert.Equal(AuthorizationDecision.Allow, decision.Outcome);
        }

        var status = await ServiceScenario.BudgetAsync(_host, budget);
        Assert.Equal(10, status.Active);
        Assert.Equal(10 * 0.00075m, status.Reserved); // 1,000 in + 1,000 max out, reserved once per call
    }

    [Fact]
    public async Task Service_down_fail_open_calls_go_ahead_and_their_usage_arrives_once_when_it_is_back()
    {
        const string tenant = "outage";
        string key = await _host.CreateKeyAsync("ingest", tenant);
        await using var forwarder = new TcpForwarder(_host.BaseAddress);
        LlmCostClientOptions options = ServiceScenario.ClientOptions(forwarder.Address, key, tenant);
        options.MaxRetryAttempts = 1;
        await using var client = LlmCostClient.Create(options);
        var inner = new FakeChatClient();
        var calls = new List<LlmCostCallCompleted>();
        IChatClient chat = new ChatClientBuilder(inner).UseLlmCost(o =>
        {
            o.UserId = "outage-user";
            o.AuthorizationTimeout = TimeSpan.FromSeconds(2);
            o.OnCallCompleted = calls.Add;
        }, client).Build();

        // Down: nothing listens behind the forwarder's port.
        ChatResponse response = await chat.GetResponseAsync("hello", new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 1000 });

        Assert.Equal("hello", response.Text);
        LlmCostCallCompleted call = Assert.Single(calls);
        Assert.True(call.FailedOpen);
        Assert.Null(call.ReservationId);
        Assert.Equal("unavailable", response.AdditionalProperties![LlmCostChatProperties.Decision]);
        // The buffer's first send fails as soon as its loop runs (on a loaded box, not necessarily within a fixed time).
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (client.Statistics.FailedSends == 0 && waited.Elapsed < TimeSpan.FromMinutes(1))
        {
            await Task.Delay(20);
        }

        Assert.True(client.Statistics.FailedSends > 0);
        using (var brief = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.FlushAsync(brief.Token)); // cannot flush while down
        }

        Assert.Equal(1, client.Statistics.Buffered);

        forwarder.Start(); // back
        using (var patience = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
        {
            await client.FlushAsync(patience.Token);
        }

        Assert.Equal((CallCost, 1L, 1000L, 500L), await ServiceScenario.UsageAsync(_host, tenant, "outage-user"));
        Assert.Equal(1, client.Statistics.Recorded);
        Assert.Equal(0, client.Statistics.Buffered);
        Assert.Equal(call.EventId, Assert.Single(await ServiceScenario.EventsAsync(_host, tenant, "outage-user")).EventId);
    }

    [Fact]
    public async Task Service_down_fail_closed_refuses_the_call_without_calling_the_provider()
    {
        await using var forwarder = new TcpForwarder(_host.BaseAddress); // never started: down
        LlmCostClientOptions options = ServiceScenario.ClientOptions(forwarder.Address, "any-key", "closed");
        options.MaxRetryAttempts = 1;
        await using var client = LlmCostClient.Create(options);
        var inner = new FakeChatClient();
        IChatClient chat = new ChatClientBuilder(inner).UseLlmCost(o =>
        {
            o.UserId = "closed-user";
            o.AuthorizationTimeout = TimeSpan.FromSeconds(2);
            o.WhenAuthorizationUnavailable = AuthorizationFailureMode.FailClosed;
        }, client).Build();

        await Assert.ThrowsAsync<LlmCostUnavailableException>(() => chat.GetResponseAsync("hello", new ChatOptions { ModelId = "gpt-4o-mini" }));
        Assert.Empty(inner.Calls);
    }

    [Fact]
    public async Task A_full_buffer_drops_and_reports_what_does_not_fit_and_delivers_the_rest_once()
    {
        const string tenant = "overflow";
        string key = await _host.CreateKeyAsync("ingest", tenant);
        await using var forwarder = new TcpForwarder(_host.BaseAddress);
        var dropped = new List<DroppedEvents>();
        LlmCostClientOptions options = ServiceScenario.ClientOptions(forwarder.Address, key, tenant);
        options.MaxRetryAttempts = 1;
        options.MaxBufferedEvents = 5;
        options.MaxBatchSize = 2;
        options.OnEventsDropped = d =>
        {
            lock (dropped)
            {
                dropped.Add(d);
            }
        };
        await using var client = LlmCostClient.Create(options);

        bool[] accepted = Enumerable.Range(0, 12).Select(_ => client.Enqueue(Event("overflow-user"))).ToArray();

        // At most 5 wait in the buffer plus one batch (2) that the loop may already have taken out to send.
        int kept = accepted.Count(a => a);
        Assert.InRange(kept, 5, 7);
        Assert.Equal(12 - kept, client.Statistics.DroppedBufferFull);
        Assert.Equal(12 - kept, dropped.Where(d => d.Reason == DropReason.BufferFull).Sum(d => d.Events.Count));

        forwarder.Start();
        using (var patience = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
        {
            await client.FlushAsync(patience.Token);
        }

        Assert.Equal((kept * CallCost, (long)kept, kept * 1000L, kept * 500L), await ServiceScenario.UsageAsync(_host, tenant, "overflow-user"));
    }

    [Fact]
    public async Task Events_still_unsent_at_shutdown_are_reported_not_lost_silently()
    {
        await using var forwarder = new TcpForwarder(_host.BaseAddress); // down for the whole test
        var dropped = new List<DroppedEvents>();
        LlmCostClientOptions options = ServiceScenario.ClientOptions(forwarder.Address, "any-key", "shutdown");
        options.MaxRetryAttempts = 1;
        options.ShutdownFlushTimeout = TimeSpan.FromMilliseconds(300);
        options.OnEventsDropped = dropped.Add;
        var client = LlmCostClient.Create(options);
        Assert.True(client.Enqueue(Event("shutdown-user")));
        Assert.True(client.Enqueue(Event("shutdown-user")));

        await client.DisposeAsync();

        DroppedEvents report = Assert.Single(dropped);
        Assert.Equal(DropReason.Shutdown, report.Reason);
        Assert.Equal(2, report.Events.Count);
        Assert.All(report.Events, e => Assert.NotNull(e.EventId)); // an app can persist and resend them: same ids
        Assert.Equal(2, client.Statistics.DroppedShutdown);
        Assert.Throws<ObjectDisposedException>(() => client.Enqueue(Event("shutdown-user")));
    }

    [Fact]
    public async Task Invalid_events_in_a_batch_are_rejected_one_by_one_and_the_rest_recorded()
    {
        const string tenant = "partial";
        string key = await _host.CreateKeyAsync("ingest", tenant);
        await using var client = LlmCostClient.Create(ServiceScenario.ClientOptions(_host.BaseAddress, key, tenant));
        UsageEvent bad = Event("partial-user") with
        {
            Usage = new Dictionary<string, long> { [UsageKeys.InputTokens] = 10, [UsageKeys.CacheReadTokens] = 20 },
        };

        RecordBatchResult result = await client.RecordBatchAsync([Event("partial-user"), bad, Event("partial-user")]);

        Assert.Equal([EventStatus.Recorded, EventStatus.Rejected, EventStatus.Recorded], result.Events.Select(e => e.Status));
        Assert.Contains(result.Events[1].Errors, e => e.Contains("cache_read_tokens", StringComparison.Ordinal));
        Assert.Equal(2 * CallCost, result.RecordedCostUsd);
        Assert.Equal((2 * CallCost, 2L, 2000L, 1000L), await ServiceScenario.UsageAsync(_host, tenant, "partial-user"));
    }

    [Fact]
    public async Task AddLlmCostClient_binds_configuration_and_refuses_invalid_options_at_start()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LlmCost:Client:BaseAddress"] = _host.BaseAddress.ToString(),
            ["LlmCost:Client:ApiKey"] = LlmCostTestHost.AdminKey,
            ["LlmCost:Client:MaxBatchSize"] = "250",
        }).Build());
        services.AddLlmCostClient(o => o.TenantId = "di"); // the delegate runs after the configuration
        await using (ServiceProvider provider = services.BuildServiceProvider())
        {
            Assert.Equal(250, provider.GetRequiredService<IOptions<LlmCostClientOptions>>().Value.MaxBatchSize);
            ILlmCostClient client = provider.GetRequiredService<ILlmCostClient>();
            Assert.Same(provider.GetRequiredService<LlmCostClient>(), client);
            PriceQuote quote = await client.PriceAsync(new PriceRequest
            {
                Model = "gpt-4o-mini", Provider = "openai",
                Usage = new Dictionary<string, long> { [UsageKeys.InputTokens] = 1000, [UsageKeys.OutputTokens] = 500 },
            });
            Assert.Equal(CallCost, quote.CostUsd);
        }

        var broken = new ServiceCollection(); // no IConfiguration at all: the delegate alone configures
        broken.AddLlmCostClient(o => o.MaxBatchSize = 501);
        await using ServiceProvider bad = broken.BuildServiceProvider();
        var failure = Assert.Throws<OptionsValidationException>(() => bad.GetRequiredService<IOptions<LlmCostClientOptions>>().Value);
        Assert.Contains(failure.Failures, f => f.Contains("MaxBatchSize", StringComparison.Ordinal));
        Assert.Contains(failure.Failures, f => f.Contains("ApiKey", StringComparison.Ordinal));
    }
}
