using LlmCost.Core.Usage;

namespace LlmCost.Core.Recording;

/// <summary>A validated, not yet priced usage event as a client submitted it.</summary>
public sealed record UsageSubmission
{
    public string? EventId { get; init; }

    /// <summary>As sent; the host replaces it with the caller's effective tenant before recording.</summary>
    public string? TenantId { get; init; }

    public required string UserId { get; init; }
    public string? TeamId { get; init; }
    public string? App { get; init; }
    public string? Provider { get; init; }
    public required string Model { get; init; }

    /// <summary>Null = "now" (the time the service received it).</summary>
    public DateTimeOffset? Timestamp { get; init; }

    public required CanonicalUsage Usage { get; init; }
    public long? LatencyMs { get; init; }
    public string Status { get; init; } = UsageStatuses.Success;
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
    public string? ReservationId { get; init; }

    /// <summary>A cost the provider or a gateway reported (event field <c>reported_cost_usd</c>, or read from <c>raw_usage</c>).</summary>
    public decimal? ReportedCostUsd { get; init; }
    public string? KeyId { get; init; }
}

/// <summary>Limits applied to submitted events (configuration <c>LlmCost:Usage</c>).</summary>
public sealed record RecordingLimits
{
    /// <summary>How far in the future an event's timestamp may be (clock skew between caller and service).</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How old an event may be (late events are accepted up to this age).</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(400);

    /// <summary>When true, unknown fields anywhere in an event are errors (a typo must not be silently dropped).</summary>
    public bool Strict { get; init; }

    public int MaxTags { get; init; } = 32;
    public int MaxTagKeyLength { get; init; } = 64;
    public int MaxTagValueLength { get; init; } = 256;
    public int MaxModelLength { get; init; } = 200;
    public int MaxProviderLength { get; init; } = 64;
    public int MaxAppLength { get; init; } = 128;
}
