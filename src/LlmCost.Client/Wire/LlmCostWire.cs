// Long on purpose: the client's wire records, one per JSON shape of the service, mirrored field by field.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmCost.Client;

// Every request and response shape of the service's HTTP API lives in this file, so a change of the wire contract
// is one edit here. Responses are read leniently: fields the service adds later are ignored (or kept in
// AdditionalProperties where a caller may want them before this library names them); money is a decimal string on
// the wire and decimal here.

/// <summary>The canonical usage keys of <c>POST /api/usage</c> (parents include their children: <c>input_tokens</c>
/// includes cache reads and writes, <c>output_tokens</c> includes reasoning and audio).</summary>
public static class UsageKeys
{
    public const string InputTokens = "input_tokens";
    public const string CacheReadTokens = "cache_read_tokens";
    public const string CacheWriteTokens = "cache_write_tokens";
    public const string CacheWrite1hTokens = "cache_write_1h_tokens";
    public const string InputAudioTokens = "input_audio_tokens";
    public const string CacheAudioReadTokens = "cache_audio_read_tokens";
    public const string OutputTokens = "output_tokens";
    public const string ReasoningTokens = "reasoning_tokens";
    public const string OutputAudioTokens = "output_audio_tokens";
    public const string WebSearches = "web_searches";
}

/// <summary>One LLM call to record (<c>POST /api/usage</c>). Give <see cref="Usage"/> (canonical keys) or
/// <see cref="RawUsage"/> (the provider's own usage object), not both.</summary>
public sealed record UsageEvent
{
    /// <summary>The idempotency key. Left null, the client generates one before the first attempt and reuses it on
    /// every retry, so a retried request is recorded once.</summary>
    public string? EventId { get; init; }

    /// <summary>Required with an admin key; an ingest key implies its tenant.</summary>
    public string? TenantId { get; init; }

    public required string UserId { get; init; }

    public string? TeamId { get; init; }

    public string? App { get; init; }

    /// <summary>Optional: the service infers it from the model name when absent.</summary>
    public string? Provider { get; init; }

    public required string Model { get; init; }

    /// <summary>When the call happened. Buffered events get the time they were enqueued when left null.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>Canonical usage (<see cref="UsageKeys"/>); a dictionary so keys the service adds later can be sent.</summary>
    public IReadOnlyDictionary<string, long>? Usage { get; init; }

    /// <summary>The provider's own usage object (OpenAI chat/Responses, Anthropic, Gemini, Bedrock).</summary>
    public JsonElement? RawUsage { get; init; }

    public long? LatencyMs { get; init; }

    /// <summary><c>success</c> (default) or <c>error</c>.</summary>
    public string? Status { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>The budget reservation the call was authorised under; recording settles it.</summary>
    public string? ReservationId { get; init; }
}

/// <summary>The answer for one recorded event.</summary>
public sealed record RecordResult
{
    public required string EventId { get; init; }
    public bool EventIdGenerated { get; init; }

    /// <summary>True when the event id was already recorded: nothing was counted again, <see cref="CostUsd"/> is the stored cost.</summary>
    public bool Duplicate { get; init; }

    public bool Priced { get; init; }
    public decimal? CostUsd { get; init; }
    public string? UnpricedReason { get; init; }
}

internal sealed record RecordBatchRequest(IReadOnlyList<UsageEvent> Events);

internal sealed record RecordBatchResponse
{
    public IReadOnlyList<RecordResult> Results { get; init; } = [];
    public int Recorded { get; init; }
    public int Duplicates { get; init; }
}

/// <summary>A call to price without recording it (<c>POST /api/price</c>).</summary>
public sealed record PriceRequest
{
    public string? TenantId { get; init; }
    public string? Provider { get; init; }
    public required string Model { get; init; }
    public DateTimeOffset? Timestamp { get; init; }
    public IReadOnlyDictionary<string, long>? Usage { get; init; }
    public JsonElement? RawUsage { get; init; }
}

public sealed record PriceQuote
{
    public bool Priced { get; init; }
    public decimal? CostUsd { get; init; }
    public string? ProviderId { get; init; }
    public string? ModelId { get; init; }
    public string? Reason { get; init; }
    public string? Source { get; init; }
    public IReadOnlyList<PriceComponent> Breakdown { get; init; } = [];
}

public sealed record PriceComponent
{
    public string? Class { get; init; }
    public long Quantity { get; init; }
    public decimal? UnitPriceUsd { get; init; }
    public decimal? CostUsd { get; init; }
}

/// <summary>One chat message for the service to count (<c>messages</c> of the authorize request).</summary>
public sealed record PromptMessage(string Role, string Content);

/// <summary>Pre-call authorisation (<c>POST /api/budgets/authorize</c>).</summary>
public sealed record AuthorizeRequest
{
    public string? TenantId { get; init; }
    public required string UserId { get; init; }
    public string? TeamId { get; init; }
    public string? KeyId { get; init; }
    public string? Provider { get; init; }
    public required string Model { get; init; }

    /// <summary>Known input tokens; or leave null and give <see cref="Messages"/> or <see cref="Prompt"/> to be counted.</summary>
    public long? InputTokens { get; init; }

    public string? Prompt { get; init; }
    public IReadOnlyList<PromptMessage>? Messages { get; init; }

    /// <summary>The output limit: the worst case reserved is input plus this.</summary>
    public long? MaxTokens { get; init; }

    /// <summary>Makes a retry idempotent (same reservation). Left null, the client generates one per call.</summary>
    public string? RequestId { get; init; }
}

/// <summary>The decisions the service can answer; anything else is read as <see cref="Unknown"/>.</summary>
public enum AuthorizationDecision
{
    Unknown,
    Allow,
    Deny,
    Downgrade,
}

public sealed record AuthorizeResponse
{
    /// <summary><c>allow</c>, <c>deny</c> or <c>downgrade</c> as sent; see <see cref="Outcome"/>.</summary>
    public string Decision { get; init; } = string.Empty;

    /// <summary>Null when admitted without any stateful budget to hold it (nothing to settle).</summary>
    public string? ReservationId { get; init; }

    public decimal? ReservedUsd { get; init; }
    public long ReservedTokens { get; init; }
    public string? SuggestedProvider { get; init; }
    public string? SuggestedModel { get; init; }
    public IReadOnlyList<BudgetStanding> Budgets { get; init; } = [];
    public string? Reason { get; init; }

    /// <summary>The budget that caused a denial or downgrade.</summary>
    public string? BudgetId { get; init; }

    public bool Replayed { get; init; }

    /// <summary>When the reservation stops counting, when the service says so.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Fields this version of the client does not name yet.</summary>
    [JsonExtensionData]
    public IDictionary<string, JsonElement>? AdditionalProperties { get; init; }

    [JsonIgnore]
    public AuthorizationDecision Outcome => Decision switch
    {
        "allow" => AuthorizationDecision.Allow,
        "deny" => AuthorizationDecision.Deny,
        "downgrade" => AuthorizationDecision.Downgrade,
        _ => AuthorizationDecision.Unknown,
    };
}

public sealed record BudgetStanding
{
    public string BudgetId { get; init; } = string.Empty;
    public string? Scope { get; init; }
    public string? Subject { get; init; }
    public string? Mode { get; init; }
    public decimal? LimitUsd { get; init; }
    public decimal? RemainingUsd { get; init; }
    public long? TokenLimit { get; init; }
    public long? RemainingTokens { get; init; }
    public string? PeriodKey { get; init; }
}

/// <summary>How a release request ended.</summary>
public enum ReleaseOutcome
{
    /// <summary>The hold is gone now.</summary>
    Released,

    /// <summary>The service knows no open reservation by that id (already settled, released or expired).</summary>
    NotOpen,

    /// <summary>The service has no release endpoint: the reservation stops counting at its expiry.</summary>
    NotSupported,
}

internal sealed record ReleaseRequest(string? TenantId, string UserId);

/// <summary><c>GET /api/budgets/{id}/status</c>.</summary>
public sealed record BudgetStatus
{
    public string BudgetId { get; init; } = string.Empty;
    public string? TenantId { get; init; }
    public string? Subject { get; init; }
    public string? Mode { get; init; }
    public string? Period { get; init; }
    public DateTimeOffset? PeriodStart { get; init; }
    public DateTimeOffset? PeriodEnd { get; init; }
    public decimal? AmountUsd { get; init; }
    public decimal SpentUsd { get; init; }
    public decimal ReservedUsd { get; init; }
    public decimal? RemainingUsd { get; init; }
    public decimal? ForecastUsd { get; init; }
    public long? TokenLimit { get; init; }
    public long SpentTokens { get; init; }
    public long ReservedTokens { get; init; }
    public long? RemainingTokens { get; init; }
    public int ActiveReservations { get; init; }
    public long EventCount { get; init; }
    public long UnpricedEvents { get; init; }
    public IReadOnlyList<string> FiredAlerts { get; init; } = [];
    public DateTimeOffset? TrippedUntil { get; init; }
}

/// <summary>Query of <c>GET /api/{users|teams|tenants}/{id}/usage</c>.</summary>
public sealed record UsageQuery
{
    public string? TenantId { get; init; }

    /// <summary>Inclusive start; default the service's (30 days before <see cref="To"/>).</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Exclusive end; default the end of the current hour.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary><c>hour</c>, <c>day</c> (default) or <c>month</c>.</summary>
    public string? Granularity { get; init; }

    /// <summary><c>provider</c> or <c>model</c>.</summary>
    public string? GroupBy { get; init; }
}

public sealed record UsageReport
{
    public string? Scope { get; init; }
    public string? Id { get; init; }
    public string? TenantId { get; init; }
    public DateTimeOffset From { get; init; }
    public DateTimeOffset To { get; init; }
    public string? Granularity { get; init; }
    public string? GroupBy { get; init; }
    public UsageTotals Total { get; init; } = new();
    public IReadOnlyList<UsageSeriesPoint> Series { get; init; } = [];
}

public sealed record UsageTotals
{
    public decimal CostUsd { get; init; }
    public long Events { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    public long UnpricedEvents { get; init; }
    public long ErrorEvents { get; init; }
    public long CacheReadTokens { get; init; }
    public long CacheWriteTokens { get; init; }
    public long ReasoningTokens { get; init; }
}

public sealed record UsageSeriesPoint
{
    public DateTimeOffset PeriodStart { get; init; }
    public string? Provider { get; init; }
    public string? Model { get; init; }
    public decimal CostUsd { get; init; }
    public long Events { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    public long UnpricedEvents { get; init; }
    public long ErrorEvents { get; init; }
}

/// <summary>Query of <c>GET /api/users/{id}/events</c>.</summary>
public sealed record EventsQuery
{
    public string? TenantId { get; init; }
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }

    /// <summary>1-1000 per page; the client follows continuation tokens.</summary>
    public int? PageSize { get; init; }
}

/// <summary>One stored event as <c>GET /api/users/{id}/events</c> returns it.</summary>
public sealed record RecordedEvent
{
    public string EventId { get; init; } = string.Empty;
    public string? TenantId { get; init; }
    public string? UserId { get; init; }
    public string? TeamId { get; init; }
    public string? App { get; init; }
    public string? Provider { get; init; }
    public string? Model { get; init; }
    public DateTimeOffset Timestamp { get; init; }
    public string? Status { get; init; }
    public long? LatencyMs { get; init; }
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
    public RecordedUsage Usage { get; init; } = new();
    public decimal CostUsd { get; init; }
    public bool Priced { get; init; }
    public string? UnpricedReason { get; init; }
    public string? ReservationId { get; init; }
    public DateTimeOffset RecordedAt { get; init; }
}

/// <summary>The units a stored event was priced from: the common counts by name, and every non-zero unit in
/// <see cref="Units"/> by its canonical key (the service's usage vocabulary).</summary>
public sealed record RecordedUsage
{
    public long InputTokens { get; init; }
    public long CacheReadTokens { get; init; }
    public long CacheWriteTokens { get; init; }
    public long OutputTokens { get; init; }
    public long ReasoningTokens { get; init; }
    public IReadOnlyDictionary<string, long> Units { get; init; } = new Dictionary<string, long>();
}

internal sealed record EventsPage
{
    public IReadOnlyList<RecordedEvent> Events { get; init; } = [];
    public string? ContinuationToken { get; init; }
}

/// <summary>An RFC 9457 problem details answer; a 400 names the offending fields in <see cref="Errors"/>.</summary>
public sealed record ApiProblem
{
    public string? Type { get; init; }
    public string? Title { get; init; }
    public int? Status { get; init; }
    public string? Detail { get; init; }
    public IReadOnlyDictionary<string, string[]>? Errors { get; init; }
}
