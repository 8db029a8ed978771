using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmCost.Client;

/// <summary>Settings of the <see cref="LlmCostChatClient"/> middleware (<c>builder.UseLlmCost(...)</c>).</summary>
public sealed class LlmCostChatClientOptions
{
    /// <summary>Tenant of the calls (admin keys; an ingest key implies it). Default: the client's.</summary>
    public string? TenantId { get; set; }

    /// <summary>The user every call is charged to, unless <see cref="ResolveCaller"/> or the per-call
    /// <see cref="LlmCostChatProperties.UserId"/> says otherwise. One of the three is required.</summary>
    public string? UserId { get; set; }

    public string? TeamId { get; set; }

    /// <summary>The key id for key-scoped budgets (sent with the authorisation).</summary>
    public string? KeyId { get; set; }

    public string? App { get; set; }

    /// <summary>Provider id as the service names it (<c>openai</c>, <c>anthropic</c>, <c>google</c>...). Default: from
    /// the inner client's <see cref="ChatClientMetadata.ProviderName"/> when it is one the service knows, else
    /// inferred by the service from the model name.</summary>
    public string? Provider { get; set; }

    /// <summary>Who a call is for, decided per call (e.g. from the ambient HTTP user). Overrides the fixed ids;
    /// <see cref="ChatOptions.AdditionalProperties"/> entries (<see cref="LlmCostChatProperties"/>) override both.</summary>
    public Func<IReadOnlyList<ChatMessage>, ChatOptions?, LlmCostCaller?>? ResolveCaller { get; set; }

    /// <summary>Authorise each call against the budgets before making it (default true). False: only record usage.</summary>
    public bool Authorize { get; set; } = true;

    /// <summary>
    /// Counts the prompt's input tokens locally for the authorisation. Null (default): the messages' text is sent to the
    /// service, which counts it with the model's tokenizer (the service never stores or logs it). Non-text content
    /// (images, files, tool definitions) is not sent, so supply a counter when those dominate.
    /// </summary>
    public Func<IReadOnlyList<ChatMessage>, ChatOptions?, long>? CountInputTokens { get; set; }

    /// <summary>The output limit reserved when <see cref="ChatOptions.MaxOutputTokens"/> is not set (the worst case
    /// is input plus this).</summary>
    public int DefaultMaxOutputTokens { get; set; } = 4096;

    /// <summary>Let a <c>downgrade</c> decision switch <see cref="ChatOptions.ModelId"/> to the suggested model (same
    /// provider only: one inner client cannot switch providers). Default false.</summary>
    public bool AllowDowngrade { get; set; }

    /// <summary>What a <c>downgrade</c> decision does when <see cref="AllowDowngrade"/> is false (or the suggestion is
    /// another provider). Default <see cref="DowngradeHandling.Deny"/>.</summary>
    public DowngradeHandling WhenDowngradeNotAllowed { get; set; } = DowngradeHandling.Deny;

    /// <summary>What happens when the service cannot answer the authorisation within
    /// <see cref="AuthorizationTimeout"/>. Default <see cref="AuthorizationFailureMode.FailOpen"/>.</summary>
    public AuthorizationFailureMode WhenAuthorizationUnavailable { get; set; } = AuthorizationFailureMode.FailOpen;

    /// <summary>The most an LLM call waits for our authorisation (retries included). Default 2 s.</summary>
    public TimeSpan AuthorizationTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How usage is sent after the call. Default <see cref="RecordingMode.Buffered"/>: never waits.</summary>
    public RecordingMode Recording { get; set; } = RecordingMode.Buffered;

    /// <summary>The most the caller waits for an immediate recording or a release after the call. Default 2 s.</summary>
    public TimeSpan SettleTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Use the provider's response id as the event id (default true): the same call reported by another path
    /// (an OpenTelemetry export, a gateway log import) is then recorded once. Falls back to a generated id.</summary>
    public bool UseResponseIdAsEventId { get; set; } = true;

    /// <summary>Gets the provider's usage JSON from a response's <c>RawRepresentation</c> for SDK types this library
    /// does not know. Default: JSON values and System.ClientModel models (the OpenAI SDK) are read; only their
    /// <c>usage</c> object is sent, never the response text.</summary>
    public Func<object, JsonElement?>? ExtractRawUsage { get; set; }

    /// <summary>Called after each call that reached the inner client, once its usage was recorded (or queued) or its
    /// reservation released. Keep it fast; exceptions are swallowed.</summary>
    public Action<LlmCostCallCompleted>? OnCallCompleted { get; set; }

    internal void Validate()
    {
        if (DefaultMaxOutputTokens < 1)
        {
            throw new ArgumentException("DefaultMaxOutputTokens must be at least 1");
        }

        if (AuthorizationTimeout <= TimeSpan.Zero || SettleTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("AuthorizationTimeout and SettleTimeout must be positive");
        }
    }
}

/// <summary>Keys of <see cref="ChatOptions.AdditionalProperties"/> the middleware reads per call, and of
/// <see cref="ChatResponse.AdditionalProperties"/> it writes.</summary>
public static class LlmCostChatProperties
{
    public const string UserId = "llmcost.user_id";
    public const string TeamId = "llmcost.team_id";
    public const string TenantId = "llmcost.tenant_id";

    /// <summary>Written on responses: the event id the usage was recorded under.</summary>
    public const string EventId = "llmcost.event_id";

    /// <summary>Written on responses: the reservation the call was authorised under.</summary>
    public const string ReservationId = "llmcost.reservation_id";

    /// <summary>Written on responses: <c>allow</c>, <c>downgrade</c>, or <c>unavailable</c> (failed open).</summary>
    public const string Decision = "llmcost.decision";
}

/// <summary>Who a call is charged to.</summary>
public sealed record LlmCostCaller(string UserId, string? TenantId = null, string? TeamId = null, string? KeyId = null, string? App = null);

public enum DowngradeHandling
{
    /// <summary>The reservation is released and <see cref="LlmCostBudgetDeniedException"/> thrown (the budget does not
    /// fit the requested model; the app did not agree to another).</summary>
    Deny,

    /// <summary>The call is made with the requested model anyway and its actual cost recorded under the reservation
    /// (the budget may be overrun by the difference).</summary>
    Proceed,
}

public enum AuthorizationFailureMode
{
    /// <summary>Make the call unauthorised and still record its usage (availability first).</summary>
    FailOpen,

    /// <summary>Throw <see cref="LlmCostUnavailableException"/> instead of making the call (budgets first).</summary>
    FailClosed,
}

public enum RecordingMode
{
    /// <summary>Enqueue into the client's bounded buffer (sent within its flush interval); the caller never waits.</summary>
    Buffered,

    /// <summary>Record before returning (bounded by <see cref="LlmCostChatClientOptions.SettleTimeout"/>; on failure the
    /// event goes to the buffer instead).</summary>
    Immediate,
}

/// <summary>How a call's reservation ended.</summary>
public enum CallSettlement
{
    /// <summary>Usage was recorded (or queued) under the reservation, if there was one.</summary>
    Recorded,

    /// <summary>No usage was known; the reservation was released.</summary>
    Released,

    /// <summary>No usage was known and the reservation could not be released (no release endpoint, or the service
    /// was unreachable): it stops counting at its expiry.</summary>
    LeftToExpire,

    /// <summary>No usage was known and nothing was reserved.</summary>
    Unmetered,
}

/// <summary>What the middleware did for one call.</summary>
public sealed record LlmCostCallCompleted
{
    public required string RequestedModel { get; init; }
    public required string Model { get; init; }
    public AuthorizeResponse? Decision { get; init; }

    /// <summary>True when the authorisation was unavailable and the call went ahead (fail-open).</summary>
    public bool FailedOpen { get; init; }

    public string? ReservationId { get; init; }
    public string? EventId { get; init; }
    public required CallSettlement Settlement { get; init; }
    public bool Streaming { get; init; }

    /// <summary>The stream was disposed before it ended, or the call was cancelled or failed.</summary>
    public bool Abandoned { get; init; }

    /// <summary>The usage that was sent (canonical form), if any.</summary>
    public IReadOnlyDictionary<string, long>? Usage { get; init; }

    /// <summary>True when the provider's raw usage was sent (with <see cref="Usage"/> as the fallback).</summary>
    public bool RawUsageSent { get; init; }
}
