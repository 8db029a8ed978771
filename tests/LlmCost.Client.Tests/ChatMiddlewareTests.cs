using LlmCost.Client.Tests.Infrastructure;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.AI;

namespace LlmCost.Client.Tests;

/// <summary>
/// The IChatClient middleware against the real service (Kestrel on loopback, Azurite) with a fake inner chat client.
/// Every scenario checks what it leaves behind: the budget's spent/reserved (GET /api/budgets/{id}/status) and the
/// user's usage (GET /api/users/{u}/usage), to the last decimal. gpt-4o-mini list prices: $0.15 in, $0.60 out per
/// million tokens, so the fake's 1,000 in + 500 out costs $0.00045.
/// </summary>
public sealed class ChatMiddlewareTests(ServiceFixture service) : IClassFixture<ServiceFixture>, IAsyncLifetime
{
    private const string Tenant = "mw";
    private const decimal CallCost = 0.00045m;
    private readonly LlmCostTestHost _host = service.Host;
    private LlmCostClient _client = null!;

    private static CallSettlement NoUsage => CallSettlement.Released;

    public async Task InitializeAsync()
    {
        // An ingest key, as an app would have; the client keeps real time while the service's clock is the fixture's.
        string key = await _host.CreateKeyAsync("ingest", Tenant);
        _client = LlmCostClient.Create(ServiceScenario.ClientOptions(_host.BaseAddress, key, Tenant));
    }

    public async Task DisposeAsync() => await _client.DisposeAsync();

    private IChatClient Chat(FakeChatClient inner, string user, Action<LlmCostChatClientOptions>? configure = null, List<LlmCostCallCompleted>? calls = null) =>
        new ChatClientBuilder(inner).UseLlmCost(o =>
        {
            o.UserId = user;
            o.AuthorizationTimeout = TimeSpan.FromSeconds(60); // a loaded machine must not turn into "unavailable"
            o.SettleTimeout = TimeSpan.FromSeconds(60);
            o.OnCallCompleted = c =>
            {
                lock (calls ?? [])
                {
                    calls?.Add(c);
                }
            };
            configure?.Invoke(o);
        }, _client).Build();

    private static ChatOptions Options(string model = "gpt-4o-mini", int maxOutput = 1000) => new() { ModelId = model, MaxOutputTokens = maxOutput };

    [Fact]
    public async Task Allowed_call_records_its_usage_under_the_reservation_and_settles_the_budget_exactly()
    {
        string budget = await ServiceScenario.CreateUserBudgetAsync(_host, Tenant, "allowed", "1.00");
        var inner = new FakeChatClient();
        var calls = new List<LlmCostCallCompleted>();
        IChatClient chat = Chat(inner, "allowed", calls: calls);

        ChatResponse response = await chat.GetResponseAsync("What does this cost?", Options());
        await _client.FlushAsync();

        LlmCostCallCompleted call = Assert.Single(calls);
        Assert.Equal(AuthorizationDecision.Allow, call.Decision!.Outcome);
        Assert.NotNull(call.ReservationId);
        Assert.Equal(CallSettlement.Recorded, call.Settlement);
        Assert.Equal(inner.LastResponseId, call.EventId); // the provider's response id is the idempotency key
        Assert.Equal(inner.LastResponseId, response.AdditionalProperties![LlmCostChatProperties.EventId]);
        Assert.Equal(CallCost, await ServiceScenario.PriceAsync(_host, "gpt-4o-mini", new { input_tokens = 1000, output_tokens = 500 }));

        var status = await ServiceScenario.BudgetAsync(_host, budget);
        Assert.Equal((CallCost, 0m, 0, 1L), status);
        Assert.Equal((CallCost, 1L, 1000L, 500L), await ServiceScenario.UsageAsync(_host, Tenant, "allowed"));
        RecordedEvent stored = Assert.Single(await ServiceScenario.EventsAsync(_host, Tenant, "allowed"));
        Assert.Equal(call.ReservationId, stored.ReservationId);
        Assert.Equal("openai", stored.Provider);
        Assert.Equal((1000L, 500L), (stored.Usage.InputTokens, stored.Usage.OutputTokens));
        Assert.Equal(1000L, stored.Usage.Units[UsageKeys.InputTokens]);
    }

    [Fact]
    public async Task Denied_call_throws_a_typed_exception_before_the_inner_client_and_changes_nothing()
    {
        string budget = await ServiceScenario.CreateUserBudgetAsync(_host, Tenant, "denied", "0.0001");
        var inner = new FakeChatClient();
        IChatClient chat = Chat(inner, "denied");

        var denied = await Assert.ThrowsAsync<LlmCostBudgetDeniedException>(() => chat.GetResponseAsync("hello", Options()));
        await _client.FlushAsync();

        Assert.Empty(inner.Calls);
        Assert.Equal(budget, denied.BudgetId);
        Assert.Contains(budget, denied.Reason, StringComparison.Ordinal);
        Assert.Contains(denied.Budgets, b => b.BudgetId == budget);
        Assert.Equal((0m, 0m, 0, 0L), await ServiceScenario.BudgetAsync(_host, budget));
        Assert.Equal((0m, 0L, 0L, 0L), await ServiceScenario.UsageAsync(_host, Tenant, "denied"));

        // Streaming: the denial surfaces when the stream is first read, still before the inner client.
        await Assert.ThrowsAsync<LlmCostBudgetDeniedException>(async () =>
        {
            await foreach (ChatResponseUpdate _ in chat.GetStreamingResponseAsync("hello", Options()))
            {
            }
        });
        Assert.Empty(inner.Calls);
    }

    [Fact]
    public async Task Downgrade_switches_the_model_when_allowed_and_records_the_cheaper_model_exactly()
    {
        // $0.002 does not fit gpt-4o's worst case (1,000 output tokens at $10/M alone) but fits a cheaper model.
        string budget = await ServiceScenario.CreateUserBudgetAsync(_host, Tenant, "downgraded", "0.002", mode: "adaptive");
        var inner = new FakeChatClient();
        var calls = new List<LlmCostCallCompleted>();
        IChatClient chat = Chat(inner, "downgraded", o => o.AllowDowngrade = true, calls);

        ChatResponse response = await chat.GetResponseAsync("hello", Options("gpt-4o"));
        await _client.FlushAsync();

        LlmCostCallCompleted call = Assert.Single(calls);
        Assert.Equal(AuthorizationDecision.Downgrade, call.Decision!.Outcome);
        string suggested = call.Decision.SuggestedModel!;
        Assert.NotEqual("gpt-4o", suggested);
        Assert.Equal(suggested, Assert.Single(inner.Calls)!.ModelId); // the inner client was asked for the cheaper model
        Assert.Equal(suggested, response.ModelId);
        Assert.Equal("gpt-4o", call.RequestedModel);
        decimal cost = await ServiceScenario.PriceAsync(_host, suggested, new { input_tokens = 1000, output_tokens = 500 });
        Assert.Equal((cost, 0m, 0, 1L), await ServiceScenario.BudgetAsync(_host, budget));
        Assert.Equal((cost, 1L, 1000L, 500L), await ServiceScenario.UsageAsync(_host, Tenant, "downgraded"));
        Assert.Equal(suggested, Assert.Single(await ServiceScenario.EventsAsync(_host, Tenant, "downgraded")).Model);
    }

    [Fact]
    public async Task Downgrade_not_allowed_is_a_denial_and_the_requested_model_is_never_called()
    {
        string budget = await ServiceScenario.CreateUserBudgetAsync(_host, Tenant, "no-downgrade", "0.002", mode: "adaptive");
        var inner = new FakeChatClient();
        IChatClient chat = Chat(inner, "no-downgrade"); // AllowDowngrade = false, WhenDowngradeNotAllowed = Deny

        var denied = await Assert.ThrowsAsync<LlmCostBudgetDeniedException>(() => chat.GetResponseAsync("hello", Options("gpt-4o")));

        Assert.Empty(inner.Calls);
        Assert.Equal(AuthorizationDecision.Downgrade, denied.Decision!.Outcome);
        Assert.Contains("downgrade", denied.Reason, StringComparison.Ordinal);
        await AssertReleasedAsync(budget, denied.Decision.ReservedUsd!.Value);
        Assert.Equal((0m, 0L, 0L, 0L), await ServiceScenario.UsageAsync(_host, Tenant, "no-downgrade"));
    }

    [Fact]
    public async Task Streamed_call_settles_when_the_stream_ends_with_the_usage_it_reported()
    {
        string budget = await ServiceScenario.CreateUserBudgetAsync(_host, Tenant, "streamed", "1.00");
        var inner = new FakeChatClient();
        var calls = new List<LlmCostCallCompleted>();
        IChatClient chat = Chat(inner, "streamed", calls: calls);

        var text = new List<string>();
        await foreach (ChatResponseUpdate update in chat.GetStreamingResponseAsync("hello", Options()))
        {
            text.Add(update.Text);
        }

        await _client.FlushAsync();
        Assert.Equal(4, text.Count);
        LlmCostCallCompleted call = Assert.Single(calls);
        Assert.True(call.Streaming);
        Assert.False(call.Abandoned);
        Assert.Equal(CallSettlement.Recorded, call.Settlement);
        Assert.Equal((CallCost, 0m, 0, 1L), await ServiceScenario.BudgetAsync(_host, budget));
        Assert.Equal((CallCost, 1L, 1000L, 500L), await ServiceScenario.UsageAsync(_host, Tenant, "streamed"));
    }

    [Fact]
    public async Task Abandoned_stream_without_usage_gives_its_reservation_back_and_records_nothing()
    {
        string budget = await ServiceScenario.CreateUserBudgetAsync(_host, Tenant, "abandoned", "1.00");
        var inner = new FakeChatClient { StreamChunks = 10 };
        var calls = new List<LlmCostCallCompleted>();
        IChatClient chat = Chat(inner, "abandoned", calls: calls);

        await foreach (ChatResponseUpdate _ in chat.GetStreamingResponseAsync("hello", Options()))
        {
            break; // the consumer stops after the first chunk; the enumerator is disposed
        }

        await _client.FlushAsync();
        LlmCostCallCompleted call = Assert.Single(calls);
        Assert.True(call.Abandoned);
        Assert.Null(call.EventId);
        Assert.Equal(NoUsage, call.Settlement);
        await AssertReleasedAsync(budget, call.Decision!.ReservedUsd!.Value);
        Assert.Equal((0m, 0L, 0L, 0L), await ServiceScenario.UsageAsync(_host, Tenant, "abandoned"));
    }

    [Fact]
    public async Task Cancelled_calls_streamed_or_not_record_nothing_and_give_the_reservations_back()
    {
        string budget = await ServiceScenario.CreateUserBudgetAsync(_host, Tenant, "cancelled", "1.00");
        var inner = new FakeChatClient { Hang = true };
        var calls = new List<LlmCostCallCompleted>();
        IChatClient chat = Chat(inner, "cancelled", calls: calls);

        using (var cancel = new CancellationTokenSource())
        {
            Task<ChatResponse> pending = chat.GetResponseAsync("hello", Options(), cancel.Token);
            await WaitUntilAsync(() => inner.Calls.Count == 1);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        }

        using (var cancel = new CancellationTokenSource())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (ChatResponseUpdate _ in chat.GetStreamingResponseAsync("hello", Options(), cancel.Token))
                {
                    await cancel.CancelAsync(); // cancelled mid-stream, while the provider is still generating
                }
            });
        }

        await _client.FlushAsync();
        Assert.Equal(2, calls.Count);
        Assert.All(calls, c => Assert.True(c.Abandoned));
        Assert.All(calls, c => Assert.Null(c.EventId));
        Assert.All(calls, c => Assert.Equal(NoUsage, c.Settlement));
        await AssertReleasedAsync(budget, calls.Sum(c => c.Decision!.ReservedUsd!.Value));
        Assert.Equal((0m, 0L, 0L, 0L), await ServiceScenario.UsageAsync(_host, Tenant, "cancelled"));
    }

    [Fact]
    public async Task Raw_OpenAI_usage_is_sent_and_priced_by_the_provider_convention()
    {
        string budget = await ServiceScenario.CreateUserBudgetAsync(_host, Tenant, "raw", "1.00");
        // A real OpenAI SDK completion: 1,200 prompt tokens of which 200 cached, 300 completion tokens.
        OpenAI.Chat.ChatCompletion completion = OpenAI.Chat.OpenAIChatModelFactory.ChatCompletion(
            id: "chatcmpl-raw-1", model: "gpt-4o-mini",
            usage: OpenAI.Chat.OpenAIChatModelFactory.ChatTokenUsage(
                outputTokenCount: 300, inputTokenCount: 1200, totalTokenCount: 1500,
                inputTokenDetails: OpenAI.Chat.OpenAIChatModelFactory.ChatInputTokenUsageDetails(cachedTokenCount: 200)));
        // The abstraction's counts deliberately disagree: the raw usage must win.
        var inner = new FakeChatClient { Raw = completion, Usage = new UsageDetails { InputTokenCount = 1, OutputTokenCount = 1 } };
        var calls = new List<LlmCostCallCompleted>();
        IChatClient chat = Chat(inner, "raw", calls: calls);

        await chat.GetResponseAsync("hello", Options());
        await _client.FlushAsync();

        Assert.True(Assert.Single(calls).RawUsageSent);
        decimal expected = await ServiceScenario.PriceAsync(_host, "gpt-4o-mini", new { input_tokens = 1200, cache_read_tokens = 200, output_tokens = 300 });
        Assert.Equal((expected, 0m, 0, 1L), await ServiceScenario.BudgetAsync(_host, budget));
        Assert.Equal((expected, 1L, 1200L, 300L), await ServiceScenario.UsageAsync(_host, Tenant, "raw"));
    }

    /// <summary>A call that was not made gives its reservation back at once: nothing reserved, nothing spent.</summary>
    private async Task AssertReleasedAsync(string budget, decimal reserved)
    {
        Assert.True(reserved > 0m, "the call was authorised with a worst case");
        var status = await ServiceScenario.BudgetAsync(_host, budget);
        Assert.Equal((0m, 0m, 0), (status.Spent, status.Reserved, status.Active));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}
