// Long on purpose: the IChatClient middleware's authorise, call and record sequence for streaming and non-streaming calls;
// the two paths must stay symmetrical, so they stay together.
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmCost.Client;

/// <summary>
/// Microsoft.Extensions.AI middleware that meters every chat call: authorise against the budgets before the call,
/// make it, record what it used under the reservation (which settles it), or release the reservation when no usage
/// is known. Add it with <c>builder.UseLlmCost(...)</c>.
/// </summary>
/// <remarks>
/// <para>Denials surface as <see cref="LlmCostBudgetDeniedException"/> before the inner client is called. Streaming
/// calls settle when the stream ends, or when it is abandoned (the enumerator disposed early, the call cancelled or
/// failed): with the usage that arrived, else by releasing the reservation.</para>
/// <para>Our outage never blocks the app beyond <see cref="LlmCostChatClientOptions.AuthorizationTimeout"/> before
/// the call and (only in immediate mode, or to release) <see cref="LlmCostChatClientOptions.SettleTimeout"/> after
/// it; usage goes through the client's bounded buffer by default.</para>
/// </remarks>
public sealed partial class LlmCostChatClient : DelegatingChatClient
{
    private static readonly Meter Meter = new("LlmCost.Client");
    private static readonly Counter<long> CallsCounter = Meter.CreateCounter<long>(
        "llmcost.client.chat.calls", "{call}", "Chat calls seen by the LlmCost middleware, by decision and settlement.");

    private readonly ILlmCostClient _client;
    private readonly LlmCostChatClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ChatClientMetadata? _metadata;

    public LlmCostChatClient(IChatClient innerClient, ILlmCostClient client, LlmCostChatClientOptions options, TimeProvider? timeProvider = null, ILogger<LlmCostChatClient>? logger = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _client = client;
        _options = options;
        _time = timeProvider ?? (client as LlmCostClient)?.Time ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _metadata = innerClient.GetService(typeof(ChatClientMetadata)) as ChatClientMetadata;
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        CallPlan plan = await PlanAsync(list, options, cancellationToken).ConfigureAwait(false);
        long started = _time.GetTimestamp();
        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(list, plan.Options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // No response, so no usage we can know of: give the reservation back.
            await SettleAsync(plan, null, null, null, null, started, streaming: false, abandoned: true).ConfigureAwait(false);
            throw;
        }

        LlmCostCallCompleted done = await SettleAsync(
            plan, response.Usage, response.RawRepresentation, response.ModelId, response.ResponseId, started, streaming: false, abandoned: false).ConfigureAwait(false);
        response.AdditionalProperties ??= [];
        response.AdditionalProperties[LlmCostChatProperties.Decision] = plan.FailedOpen ? "unavailable" : plan.Decision?.Decision ?? "not_authorized";
        if (done.ReservationId is not null)
        {
            response.AdditionalProperties[LlmCostChatProperties.ReservationId] = done.ReservationId;
        }

        if (done.EventId is not null)
        {
            response.AdditionalProperties[LlmCostChatProperties.EventId] = done.EventId;
        }

        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        CallPlan plan = await PlanAsync(list, options, cancellationToken).ConfigureAwait(false);
        long started = _time.GetTimestamp();
        var seen = new StreamUsage();
        bool ended = false;
        try
        {
            await foreach (ChatResponseUpdate update in base.GetStreamingResponseAsync(list, plan.Options, cancellationToken).ConfigureAwait(false))
            {
                seen.Observe(update);
                yield return update;
            }

            ended = true;
        }
        finally
        {
            // Runs when the stream ends, fails, is cancelled, or the consumer stops early and disposes the enumerator.
            await SettleAsync(plan, seen.Usage, seen.Raw, seen.ModelId, seen.ResponseId, started, streaming: true, abandoned: !ended).ConfigureAwait(false);
        }
    }

    private async Task<CallPlan> PlanAsync(IReadOnlyList<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        LlmCostCaller caller = ResolveCaller(messages, options);
        string? model = options?.ModelId ?? _metadata?.DefaultModelId;
        string? provider = _options.Provider ?? ChatUsageMapper.Provider(_metadata?.ProviderName);
        if (!_options.Authorize)
        {
            return new CallPlan(caller, provider, model, model, options, null, FailedOpen: false);
        }

        if (model is null)
        {
            throw new InvalidOperationException("LlmCost cannot authorise a call without a model: set ChatOptions.ModelId or use an inner client whose metadata names its default model.");
        }

        long maxTokens = options?.MaxOutputTokens is int max && max > 0 ? max : _options.DefaultMaxOutputTokens;
        var request = new AuthorizeRequest
        {
            TenantId = caller.TenantId,
            UserId = caller.UserId,
            TeamId = caller.TeamId,
            KeyId = caller.KeyId,
            Provider = provider,
            Model = model,
            MaxTokens = maxTokens,
            InputTokens = _options.CountInputTokens?.Invoke(messages, options),
            Messages = _options.CountInputTokens is null ? PromptMessages(messages, options) : null,
            RequestId = LlmCostIds.NewId(),
        };

        AuthorizeResponse decision;
        using (var timer = new CancellationTokenSource(_options.AuthorizationTimeout, _time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token))
        {
            try
            {
                decision = await _client.AuthorizeAsync(request, linked.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested
                && (ex is LlmCostUnavailableException || ex is OperationCanceledException || ex is LlmCostApiException { StatusCode: >= 500 }))
            {
                if (_options.WhenAuthorizationUnavailable == AuthorizationFailureMode.FailClosed)
                {
                    Count("unavailable", "refused");
                    throw new LlmCostUnavailableException("the LlmCost budget service did not answer in time; failing closed", ex);
                }

                LogFailedOpen(_logger, model, ex.GetType().Name);
                return new CallPlan(caller, provider, model, model, options, null, FailedOpen: true);
            }
        }

        switch (decision.Outcome)
        {
            case AuthorizationDecision.Allow:
                return new CallPlan(caller, provider, model, model, options, decision, FailedOpen: false);
            case AuthorizationDecision.Downgrade when decision.SuggestedModel is { } suggested
                && _options.AllowDowngrade
                && (decision.SuggestedProvider is null || provider is null || string.Equals(decision.SuggestedProvider, provider, StringComparison.OrdinalIgnoreCase)):
                ChatOptions switched = options?.Clone() ?? new ChatOptions();
                switched.ModelId = suggested;
                LogDowngraded(_logger, model, suggested);
                return new CallPlan(caller, provider, model, suggested, switched, decision, FailedOpen: false);
            case AuthorizationDecision.Downgrade when _options.WhenDowngradeNotAllowed == DowngradeHandling.Proceed:
                return new CallPlan(caller, provider, model, model, options, decision, FailedOpen: false);
            case AuthorizationDecision.Downgrade:
                await ReleaseAsync(decision.ReservationId, caller).ConfigureAwait(false);
                Count("downgrade", "denied");
                throw new LlmCostBudgetDeniedException(decision,
                    $"budget requires a downgrade to {decision.SuggestedModel} ({decision.Reason}); downgrades are not allowed for this client");
            default:
                // Deny, or a decision this version does not know: not admitted. A denial reserves nothing.
                Count(decision.Decision, "denied");
                throw new LlmCostBudgetDeniedException(decision, decision.Reason ?? $"the budget service answered '{decision.Decision}'");
        }
    }

    private async Task<LlmCostCallCompleted> SettleAsync(
        CallPlan plan, UsageDetails? details, object? raw, string? responseModel, string? responseId, long started, bool streaming, bool abandoned)
    {
        string model = responseModel ?? plan.Model ?? "unknown";
        string? reservationId = plan.Decision?.ReservationId;
        Dictionary<string, long>? usage = ChatUsageMapper.Canonical(details);
        JsonElement? rawUsage = ChatUsageMapper.RawUsage(raw, _options.ExtractRawUsage);
        CallSettlement settlement;
        string? eventId = null;
        if (usage is not null || rawUsage is not null)
        {
            eventId = _options.UseResponseIdAsEventId && LlmCostIds.IsValidEventId(responseId) ? responseId : LlmCostIds.NewId();
            var canonical = new UsageEvent
            {
                EventId = eventId,
                TenantId = plan.Caller.TenantId,
                UserId = plan.Caller.UserId,
                TeamId = plan.Caller.TeamId,
                App = plan.Caller.App,
                Provider = plan.Provider,
                Model = model,
                Timestamp = _time.GetUtcNow() - _time.GetElapsedTime(started),
                LatencyMs = (long)_time.GetElapsedTime(started).TotalMilliseconds,
                Usage = usage,
                ReservationId = reservationId,
            };
            UsageEvent primary = rawUsage is { } r ? canonical with { Usage = null, RawUsage = r } : canonical;
            await RecordAsync(primary, rawUsage is not null && usage is not null ? canonical : null).ConfigureAwait(false);
            settlement = CallSettlement.Recorded;
        }
        else if (reservationId is not null)
        {
            settlement = await ReleaseAsync(reservationId, plan.Caller).ConfigureAwait(false);
        }
        else
        {
            settlement = CallSettlement.Unmetered;
        }

        if (settlement != CallSettlement.Recorded && !abandoned)
        {
            // The call completed but reported no usage: it was billed and we cannot say how much.
            LogNoUsage(_logger, model);
        }

        Count(plan.FailedOpen ? "unavailable" : plan.Decision?.Decision ?? "not_authorized", settlement.ToString().ToLowerInvariant());
        var completed = new LlmCostCallCompleted
        {
            RequestedModel = plan.RequestedModel ?? model,
            Model = model,
            Decision = plan.Decision,
            FailedOpen = plan.FailedOpen,
            ReservationId = reservationId,
            EventId = eventId,
            Settlement = settlement,
            Streaming = streaming,
            Abandoned = abandoned,
            Usage = usage,
            RawUsageSent = rawUsage is not null,
        };
        try
        {
            _options.OnCallCompleted?.Invoke(completed);
        }
        catch (Exception ex)
        {
            LogCallbackFailed(_logger, ex);
        }

        return completed;
    }

    private async Task RecordAsync(UsageEvent primary, UsageEvent? fallback)
    {
        if (_options.Recording == RecordingMode.Immediate)
        {
            using var timeout = new CancellationTokenSource(_options.SettleTimeout, _time);
            try
            {
                await _client.RecordAsync(primary, timeout.Token).ConfigureAwait(false);
                return;
            }
            catch (LlmCostApiException ex) when (ex.StatusCode == 400 && fallback is not null)
            {
                // The service could not read the provider's raw usage: the abstraction's counts still can be.
                LogRawRefused(_logger, primary.Model);
                primary = fallback;
                fallback = null;
                try
                {
                    await _client.RecordAsync(primary, timeout.Token).ConfigureAwait(false);
                    return;
                }
                catch (Exception retryFailure) when (retryFailure is LlmCostUnavailableException or OperationCanceledException)
                {
                    // Fall through to the buffer, which keeps trying.
                }
            }
            catch (Exception ex) when (ex is LlmCostUnavailableException or OperationCanceledException)
            {
                // Fall through to the buffer, which keeps trying (same event id: never counted twice).
            }
        }

        bool queued = _client is LlmCostClient concrete ? concrete.EnqueueWithFallback(primary, fallback) : _client.Enqueue(primary);
        if (!queued)
        {
            LogNotQueued(_logger, primary.Model);
        }
    }

    private async Task<CallSettlement> ReleaseAsync(string? reservationId, LlmCostCaller caller)
    {
        if (reservationId is null)
        {
            return CallSettlement.Unmetered;
        }

        using var timeout = new CancellationTokenSource(_options.SettleTimeout, _time);
        try
        {
            ReleaseOutcome outcome = await _client.ReleaseAsync(reservationId, caller.UserId, caller.TenantId, timeout.Token).ConfigureAwait(false);
            return outcome == ReleaseOutcome.NotSupported ? CallSettlement.LeftToExpire : CallSettlement.Released;
        }
        catch (Exception ex) when (ex is LlmCostException or OperationCanceledException)
        {
            LogReleaseFailed(_logger, ex.GetType().Name);
            return CallSettlement.LeftToExpire;
        }
    }

    private LlmCostCaller ResolveCaller(IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        LlmCostCaller? resolved = _options.ResolveCaller?.Invoke(messages, options);
        string? user = Property(options, LlmCostChatProperties.UserId) ?? resolved?.UserId ?? _options.UserId;
        if (user is null)
        {
            throw new InvalidOperationException($"LlmCost needs the user a call is charged to: set LlmCostChatClientOptions.UserId or ResolveCaller, or ChatOptions.AdditionalProperties[\"{LlmCostChatProperties.UserId}\"].");
        }

        return new LlmCostCaller(
            user,
            Property(options, LlmCostChatProperties.TenantId) ?? resolved?.TenantId ?? _options.TenantId,
            Property(options, LlmCostChatProperties.TeamId) ?? resolved?.TeamId ?? _options.TeamId,
            resolved?.KeyId ?? _options.KeyId,
            resolved?.App ?? _options.App);
    }

    private static string? Property(ChatOptions? options, string key) =>
        options?.AdditionalProperties?.TryGetValue(key, out object? value) == true && value is string text && text.Length > 0 ? text : null;

    private static List<PromptMessage> PromptMessages(IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        var prompt = new List<PromptMessage>(messages.Count + 1);
        if (!string.IsNullOrEmpty(options?.Instructions))
        {
            prompt.Add(new PromptMessage("system", options.Instructions));
        }

        foreach (ChatMessage message in messages)
        {
            prompt.Add(new PromptMessage(message.Role.Value, message.Text));
        }

        return prompt;
    }

    private static void Count(string decision, string settlement) =>
        CallsCounter.Add(1, new KeyValuePair<string, object?>("decision", decision), new KeyValuePair<string, object?>("settlement", settlement));

    /// <summary>What a streamed call reported: usage contents are added up (Anthropic reports input at the start and
    /// output at the end); the raw usage is kept only when a single update carried it.</summary>
    private sealed class StreamUsage
    {
        private int _rawCount;
        private object? _raw;

        public UsageDetails? Usage { get; private set; }

        public object? Raw => _rawCount == 1 ? _raw : null;

        public string? ModelId { get; private set; }

        public string? ResponseId { get; private set; }

        public void Observe(ChatResponseUpdate update)
        {
            ModelId = update.ModelId ?? ModelId;
            ResponseId ??= update.ResponseId;
            foreach (AIContent content in update.Contents)
            {
                if (content is UsageContent { Details: { } details })
                {
                    if (Usage is null)
                    {
                        Usage = new UsageDetails();
                    }

                    Usage.Add(details);
                    if (update.RawRepresentation is not null)
                    {
                        _rawCount++;
                        _raw = update.RawRepresentation;
                    }
                }
            }
        }
    }

    private sealed record CallPlan(
        LlmCostCaller Caller, string? Provider, string? RequestedModel, string? Model, ChatOptions? Options, AuthorizeResponse? Decision, bool FailedOpen);

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "LlmCost authorisation unavailable for model {Model} ({Failure}); the call goes ahead unauthorised (fail-open)")]
    private static partial void LogFailedOpen(ILogger logger, string model, string failure);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "LlmCost budget downgraded the call from {Requested} to {Model}")]
    private static partial void LogDowngraded(ILogger logger, string requested, string model);

    [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "The call to {Model} completed without usage; it is not metered")]
    private static partial void LogNoUsage(ILogger logger, string model);

    [LoggerMessage(EventId = 23, Level = LogLevel.Warning, Message = "Releasing a LlmCost reservation failed ({Failure}); it stops counting at its expiry")]
    private static partial void LogReleaseFailed(ILogger logger, string failure);

    [LoggerMessage(EventId = 24, Level = LogLevel.Warning, Message = "The LlmCost service refused the raw usage of a {Model} call; recorded from the abstraction's counts instead")]
    private static partial void LogRawRefused(ILogger logger, string model);

    [LoggerMessage(EventId = 25, Level = LogLevel.Error, Message = "The LlmCost buffer is full: the usage of a {Model} call was dropped")]
    private static partial void LogNotQueued(ILogger logger, string model);

    [LoggerMessage(EventId = 26, Level = LogLevel.Warning, Message = "The OnCallCompleted callback threw")]
    private static partial void LogCallbackFailed(ILogger logger, Exception exception);
}
