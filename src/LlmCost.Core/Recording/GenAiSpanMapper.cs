// Long on purpose: the OpenTelemetry GenAI semantic conventions (attribute names by spec version, providers,
// outcomes) mapped to a usage submission in one place, with the span and mapping records it reads and answers.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmCost.Core.Recording;

/// <summary>One span of a trace export, decoded from its wire format (OTLP protobuf or JSON) by the host.</summary>
/// <param name="TraceId">Lower-case hex (32 characters), or empty when the span had none.</param>
/// <param name="SpanId">Lower-case hex (16 characters), or empty when the span had none.</param>
/// <param name="Attributes">The span's attributes: string, long, double, bool, or an array of those.</param>
/// <param name="Resource">The attributes of the span's resource (<c>service.name</c>, ...).</param>
public sealed record TelemetrySpan(
    string TraceId,
    string SpanId,
    string Name,
    DateTimeOffset? Start,
    DateTimeOffset? End,
    bool Failed,
    IReadOnlyDictionary<string, object> Attributes,
    IReadOnlyDictionary<string, object> Resource);

/// <summary>Where the event's ids come from and how provider names translate (configuration <c>LlmCost:Otlp</c>).</summary>
public sealed record GenAiSpanMapping
{
    /// <summary>Attributes naming the user, first match wins (span attributes before resource attributes).</summary>
    public IReadOnlyList<string> UserAttributes { get; init; } = ["user.id", "enduser.id"];

    public IReadOnlyList<string> TeamAttributes { get; init; } = ["llmcost.team_id"];

    public IReadOnlyList<string> AppAttributes { get; init; } = ["service.name"];

    /// <summary>Only an admin key may name a tenant; any other key's tenant is its own (naming another is refused).</summary>
    public IReadOnlyList<string> TenantAttributes { get; init; } = ["llmcost.tenant_id"];

    /// <summary>The user of a span that names none; null refuses such spans.</summary>
    public string? FallbackUserId { get; init; } = "unattributed";

    /// <summary><c>gen_ai.provider.name</c> / <c>gen_ai.system</c> value → catalog provider id (case-insensitive).
    /// A value not listed is passed on as it is (the catalog matches many names, e.g. <c>groq</c>, itself).</summary>
    public IReadOnlyDictionary<string, string> Providers { get; init; } = DefaultProviders;

    /// <summary>
    /// The semantic conventions' well-known provider names (and the older <c>gen_ai.system</c> values) mapped to the
    /// catalog. <c>azure.ai.openai</c> must not fall through to the catalog's own matching, which would take it for
    /// OpenAI by its name.
    /// </summary>
    public static IReadOnlyDictionary<string, string> DefaultProviders { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["openai"] = "openai",
        ["anthropic"] = "anthropic",
        ["gcp.gemini"] = "google",
        ["gcp.vertex_ai"] = "google",
        ["gcp.gen_ai"] = "google",
        ["vertex_ai"] = "google",
        ["gemini"] = "google",
        ["aws.bedrock"] = "aws",
        ["azure.ai.openai"] = "azure",
        ["azure.ai.inference"] = "azure",
        ["az.ai.openai"] = "azure",
        ["az.ai.inference"] = "azure",
        ["cohere"] = "cohere",
        ["mistral_ai"] = "mistral",
        ["deepseek"] = "deepseek",
        ["groq"] = "groq",
        ["perplexity"] = "perplexity",
        ["x_ai"] = "x-ai",
    };
}

public enum GenAiSpanOutcome
{
    /// <summary>A model call with usage: <see cref="GenAiSpanResult.Submission"/> is ready to record.</summary>
    Mapped,

    /// <summary>Not a GenAI span (no <c>gen_ai.*</c> attribute): an HTTP or database span of the same app.</summary>
    NotGenAi,

    /// <summary>An agent or tool span: its usage, if any, is the sum of the model calls beneath it, recorded from those.</summary>
    NotAModelCall,

    /// <summary>A GenAI model call that cannot be recorded; <see cref="GenAiSpanResult.Reason"/> says why.</summary>
    Rejected,
}

/// <param name="ReasonCode">A short fixed code for metrics (no request text in a metric tag).</param>
public sealed record GenAiSpanResult(GenAiSpanOutcome Outcome, UsageSubmission? Submission, string? Reason, string? ReasonCode)
{
    public static GenAiSpanResult Skip(GenAiSpanOutcome outcome) => new(outcome, null, null, null);

    public static GenAiSpanResult Reject(string code, string reason) => new(GenAiSpanOutcome.Rejected, null, reason, code);
}

/// <summary>
/// Maps a span following the OpenTelemetry GenAI semantic conventions to a usage event, validated by the same
/// <see cref="UsageSubmissionParser"/> as <c>POST /api/usage</c>.
/// </summary>
/// <remarks>
/// <para>The conventions count cached tokens INSIDE <c>gen_ai.usage.input_tokens</c>
/// (<c>gen_ai.usage.cache_read.input_tokens</c> and <c>gen_ai.usage.cache_creation.input_tokens</c> "SHOULD be
/// included") and reasoning tokens inside <c>gen_ai.usage.output_tokens</c>, which is this service's canonical
/// convention, so the counts carry over unchanged. An instrumentation that reports Anthropic's exclusive input count
/// instead shows up as cache parts larger than the input: that span is rejected naming the attributes, never
/// re-added by guess.</para>
/// <para>Older names are read when the current one is absent: <c>gen_ai.system</c> (provider),
/// <c>gen_ai.usage.prompt_tokens</c> / <c>completion_tokens</c>, <c>gen_ai.usage.cache_read_input_tokens</c> /
/// <c>cache_creation_input_tokens</c>, <c>gen_ai.usage.input_tokens.cached</c> / <c>.cache_write</c>,
/// <c>gen_ai.usage.output_tokens.reasoning</c>, <c>gen_ai.usage.reasoning_tokens</c>.</para>
/// <para>The model is <c>gen_ai.response.model</c> (what actually answered, often a dated version) before
/// <c>gen_ai.request.model</c>. The event id is <c>gen_ai.response.id</c> when it is a valid id, else
/// <c>{trace id}-{span id}</c>: both are the same on every resend of the span, so a resent export is a duplicate.</para>
/// </remarks>
public static class GenAiSpanMapper
{
    public static readonly string[] InputTokenAttributes = ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"];
    public static readonly string[] OutputTokenAttributes = ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"];

    public static readonly string[] CacheReadAttributes =
        ["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.input_tokens.cached"];

    public static readonly string[] CacheWriteAttributes =
        ["gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens", "gen_ai.usage.input_tokens.cache_write"];

    public static readonly string[] ReasoningAttributes =
        ["gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.output_tokens.reasoning", "gen_ai.usage.reasoning_tokens"];

    /// <summary>Operations whose spans sit above model calls (agents, tools): never recorded themselves.</summary>
    private static readonly HashSet<string> s_notModelCalls = new(StringComparer.Ordinal) { "invoke_agent", "create_agent", "execute_tool" };

    public static GenAiSpanResult Map(TelemetrySpan span, GenAiSpanMapping mapping, RecordingLimits limits, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(span);
        ArgumentNullException.ThrowIfNull(mapping);
        ArgumentNullException.ThrowIfNull(limits);
        if (!span.Attributes.Keys.Any(k => k.StartsWith("gen_ai.", StringComparison.Ordinal)))
        {
            return GenAiSpanResult.Skip(GenAiSpanOutcome.NotGenAi);
        }

        string? operation = Text(span.Attributes, "gen_ai.operation.name");
        if (operation is not null && s_notModelCalls.Contains(operation))
        {
            return GenAiSpanResult.Skip(GenAiSpanOutcome.NotAModelCall);
        }

        string? model = Text(span.Attributes, "gen_ai.response.model") ?? Text(span.Attributes, "gen_ai.request.model");
        if (model is null)
        {
            return GenAiSpanResult.Reject("no_model", "has neither gen_ai.response.model nor gen_ai.request.model");
        }

        var problems = new List<string>();
        long? input = Count(span.Attributes, InputTokenAttributes, problems);
        long? output = Count(span.Attributes, OutputTokenAttributes, problems);
        long? cacheRead = Count(span.Attributes, CacheReadAttributes, problems);
        long? cacheWrite = Count(span.Attributes, CacheWriteAttributes, problems);
        long? reasoning = Count(span.Attributes, ReasoningAttributes, problems);
        if (problems.Count > 0)
        {
            return GenAiSpanResult.Reject("bad_tokens", string.Join("; ", problems));
        }

        if (input is null && output is null && !span.Failed)
        {
            return GenAiSpanResult.Reject("no_usage", "reports no token usage (gen_ai.usage.input_tokens / gen_ai.usage.output_tokens)");
        }

        if ((cacheRead ?? 0) + (cacheWrite ?? 0) > (input ?? 0))
        {
            return GenAiSpanResult.Reject("bad_tokens",
                "cached input tokens (gen_ai.usage.cache_read.input_tokens + gen_ai.usage.cache_creation.input_tokens) exceed gen_ai.usage.input_tokens, " +
                "which the conventions say includes them");
        }

        if ((reasoning ?? 0) > (output ?? 0))
        {
            return GenAiSpanResult.Reject("bad_tokens",
                "gen_ai.usage.reasoning.output_tokens exceeds gen_ai.usage.output_tokens, which the conventions say includes them");
        }

        string? user = First(span, mapping.UserAttributes) ?? mapping.FallbackUserId;
        if (user is null)
        {
            return GenAiSpanResult.Reject("no_user", $"names no user ({string.Join(", ", mapping.UserAttributes)})");
        }

        string? provider = Text(span.Attributes, "gen_ai.provider.name") ?? Text(span.Attributes, "gen_ai.system");
        if (provider is not null && mapping.Providers.TryGetValue(provider, out string? catalogProvider))
        {
            provider = catalogProvider;
        }

        var usage = new JsonObject
        {
            ["input_tokens"] = input ?? 0,
            ["output_tokens"] = output ?? 0,
        };
        if (cacheRead is { } reads)
        {
            usage["cache_read_tokens"] = reads;
        }

        if (cacheWrite is { } writes)
        {
            usage["cache_write_tokens"] = writes;
        }

        if (reasoning is { } thinking)
        {
            usage["reasoning_tokens"] = thinking;
        }

        var tags = new JsonObject { ["source"] = "otlp" };
        if (span.TraceId.Length > 0)
        {
            tags["otel.trace_id"] = span.TraceId;
        }

        if (span.SpanId.Length > 0)
        {
            tags["otel.span_id"] = span.SpanId;
        }

        if (operation is not null)
        {
            tags["gen_ai.operation.name"] = operation;
        }

        string? eventId = EventId(span);
        if (eventId is null)
        {
            return GenAiSpanResult.Reject("no_id", "has no gen_ai.response.id and no trace and span ids to identify it");
        }

        var json = new JsonObject
        {
            ["event_id"] = eventId,
            ["user_id"] = user,
            ["model"] = model,
            ["usage"] = usage,
            ["status"] = span.Failed ? UsageStatuses.Error : UsageStatuses.Success,
            ["tags"] = tags,
        };
        Put(json, "tenant_id", First(span, mapping.TenantAttributes));
        Put(json, "team_id", First(span, mapping.TeamAttributes));
        Put(json, "app", First(span, mapping.AppAttributes));
        Put(json, "provider", provider);
        if ((span.End ?? span.Start) is { } at)
        {
            json["timestamp"] = at.ToString("O", CultureInfo.InvariantCulture);
        }

        if (span.Start is { } start && span.End is { } end && end >= start)
        {
            json["latency_ms"] = (long)(end - start).TotalMilliseconds;
        }

        var errors = new List<FieldError>();
        using JsonDocument document = JsonDocument.Parse(json.ToJsonString());
        UsageSubmission? submission = UsageSubmissionParser.Parse(document.RootElement, string.Empty, limits with { Strict = false }, now, errors);
        return submission is null
            ? GenAiSpanResult.Reject("invalid_event", string.Join("; ", errors.Take(3).Select(e => $"{Describe(e.Field, mapping)} {e.Message}")))
            : new GenAiSpanResult(GenAiSpanOutcome.Mapped, submission, null, null);
    }

    private static string? EventId(TelemetrySpan span)
    {
        if (Text(span.Attributes, "gen_ai.response.id") is { } responseId && RecordKeys.EventIdProblem(responseId) is null)
        {
            return responseId;
        }

        return span.TraceId.Length > 0 && span.SpanId.Length > 0 ? $"{span.TraceId}-{span.SpanId}" : null;
    }

    /// <summary>Names a field of the event by the attribute it came from, so the sender can find it.</summary>
    private static string Describe(string field, GenAiSpanMapping mapping) => field switch
    {
        "user_id" => $"user ({string.Join(" / ", mapping.UserAttributes)})",
        "team_id" => $"team ({string.Join(" / ", mapping.TeamAttributes)})",
        "tenant_id" => $"tenant ({string.Join(" / ", mapping.TenantAttributes)})",
        "app" => $"app ({string.Join(" / ", mapping.AppAttributes)})",
        "model" => "model (gen_ai.response.model / gen_ai.request.model)",
        "provider" => "provider (gen_ai.provider.name / gen_ai.system)",
        "timestamp" => "the span's end time",
        _ => field,
    };

    private static void Put(JsonObject json, string name, string? value)
    {
        if (value is not null)
        {
            json[name] = value;
        }
    }

    /// <summary>The first of <paramref name="names"/> present on the span, then on its resource.</summary>
    private static string? First(TelemetrySpan span, IReadOnlyList<string> names)
    {
        foreach (string name in names)
        {
            if (Text(span.Attributes, name) is { } value)
            {
                return value;
            }
        }

        foreach (string name in names)
        {
            if (Text(span.Resource, name) is { } value)
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>A non-empty string value; numbers are taken as their invariant text (user ids are often numeric).</summary>
    private static string? Text(IReadOnlyDictionary<string, object> attributes, string name) =>
        attributes.TryGetValue(name, out object? value)
            ? value switch
            {
                string { Length: > 0 } s => s,
                long l => l.ToString(CultureInfo.InvariantCulture),
                _ => null,
            }
            : null;

    /// <summary>The first of <paramref name="names"/> present: a non-negative whole number (int, integral double or digits).</summary>
    private static long? Count(IReadOnlyDictionary<string, object> attributes, string[] names, List<string> problems)
    {
        foreach (string name in names)
        {
            if (!attributes.TryGetValue(name, out object? value))
            {
                continue;
            }

            long? count = value switch
            {
                long l => l,
                double d when double.IsFinite(d) && d == Math.Floor(d) && Math.Abs(d) < 9e15 => (long)d,
                string s when long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long parsed) => parsed,
                _ => null,
            };
            if (count is null || count < 0)
            {
                problems.Add($"{name} must be a non-negative whole number of tokens, got {Shorten(value)}");
                return null;
            }

            return count;
        }

        return null;
    }

    private static string Shorten(object value)
    {
        string text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
        return text.Length > 40 ? text[..40] + "…" : text;
    }
}
