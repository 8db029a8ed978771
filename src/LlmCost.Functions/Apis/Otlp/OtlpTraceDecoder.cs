using LlmCost.Core;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using LlmCost.Core.Recording;
using Opentelemetry.Proto.Collector.Trace.V1;
using Opentelemetry.Proto.Common.V1;
using Opentelemetry.Proto.Trace.V1;

namespace LlmCost.Functions.Apis.Otlp;

/// <summary>
/// The OTLP/HTTP wire formats of a trace export: binary protobuf (<c>application/x-protobuf</c>) and the OTLP JSON
/// encoding (<c>application/json</c>: protobuf's JSON mapping, except that trace and span ids are hex, not base64),
/// either optionally gzip-compressed. Decoding is Google.Protobuf's, over the official message definitions.
/// </summary>
internal static class OtlpTraceDecoder
{
    public const string Protobuf = "application/x-protobuf";
    public const string Json = "application/json";

    private static readonly JsonParser s_jsonParser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true).WithRecursionLimit(64));

    /// <summary>The OTLP JSON writer: lowerCamelCase names, int64 as strings, default values left out.</summary>
    public static JsonFormatter JsonWriter { get; } = new(JsonFormatter.Settings.Default);

    /// <summary>The body, gunzipped when <c>Content-Encoding: gzip</c>, within <paramref name="maxBytes"/> either way.</summary>
    public static async Task<(byte[]? Body, FieldError? Problem, bool TooLarge)> ReadBodyAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        string encoding = request.Headers.ContentEncoding.ToString().Trim();
        bool gzip = encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase);
        if (!gzip && encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return (null, new FieldError("Content-Encoding", $"must be gzip or identity, got '{Shorten(encoding)}'"), false);
        }

        if (request.ContentLength > maxBytes)
        {
            return (null, null, true);
        }

        (byte[]? raw, bool tooLarge) = await ReadAtMostAsync(request.Body, maxBytes, cancellationToken);
        if (tooLarge)
        {
            return (null, null, true);
        }

        if (!gzip)
        {
            return (raw, null, false);
        }

        try
        {
            // A small body may inflate enormously (a "zip bomb"): the limit holds for what comes out, too.
            await using var inflater = new GZipStream(new MemoryStream(raw!), CompressionMode.Decompress);
            (byte[]? body, bool inflatedTooLarge) = await ReadAtMostAsync(inflater, maxBytes, cancellationToken);
            return inflatedTooLarge ? (null, null, true) : (body, null, false);
        }
        catch (InvalidDataException)
        {
            return (null, new FieldError("body", "is not valid gzip data (Content-Encoding: gzip)"), false);
        }
    }

    /// <summary>Parses an export request in the given media type; a problem names what is wrong.</summary>
    public static (ExportTraceServiceRequest? Request, FieldError? Problem) Parse(byte[] body, bool json)
    {
        try
        {
            if (!json)
            {
                return (ExportTraceServiceRequest.Parser.ParseFrom(body), null);
            }

            if (body.Length == 0)
            {
                return (new ExportTraceServiceRequest(), null);
            }

            if (JsonInputPolicy.Check(body) is { } policy)
            {
                return (null, policy);
            }

            JsonNode? root = JsonNode.Parse(body, documentOptions: JsonInputPolicy.DocumentOptions);
            if (root is not JsonObject)
            {
                return (null, new FieldError("body", "must be a JSON object (an ExportTraceServiceRequest)"));
            }

            if (HexIdsToBase64(root, "$") is { } idProblem)
            {
                return (null, idProblem);
            }

            return (s_jsonParser.Parse<ExportTraceServiceRequest>(root.ToJsonString()), null);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return (null, new FieldError("body", $"is not a valid OTLP {(json ? "JSON" : "protobuf")} ExportTraceServiceRequest: {Shorten(ex.Message)}"));
        }
        catch (InvalidJsonException ex)
        {
            return (null, new FieldError("body", $"is not a valid OTLP JSON ExportTraceServiceRequest: {Shorten(ex.Message)}"));
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            return (null, new FieldError("body", $"is not a valid OTLP JSON ExportTraceServiceRequest: {Shorten(ex.Message)}"));
        }
    }

    /// <summary>Every span of the export with its resource's attributes (scope_spans; the deprecated
    /// instrumentation_library_spans only where a sender still uses them instead).</summary>
    public static IEnumerable<TelemetrySpan> Spans(ExportTraceServiceRequest request)
    {
        foreach (ResourceSpans resourceSpans in request.ResourceSpans)
        {
            IReadOnlyDictionary<string, object> resource = Attributes(resourceSpans.Resource?.Attributes);
            IEnumerable<Span> spans = resourceSpans.ScopeSpans.Count > 0
                ? resourceSpans.ScopeSpans.SelectMany(s => s.Spans)
#pragma warning disable CS0612 // the deprecated field is read only from senders that still fill it
                : resourceSpans.InstrumentationLibrarySpans.SelectMany(s => s.Spans);
#pragma warning restore CS0612
            foreach (Span span in spans)
            {
                yield return new TelemetrySpan(
                    Convert.ToHexStringLower(span.TraceId.Span),
                    Convert.ToHexStringLower(span.SpanId.Span),
                    span.Name,
                    Time(span.StartTimeUnixNano),
                    Time(span.EndTimeUnixNano),
                    span.Status?.Code == Status.Types.StatusCode.Error,
                    Attributes(span.Attributes),
                    resource);
            }
        }
    }

    public static int CountSpans(ExportTraceServiceRequest request) =>
#pragma warning disable CS0612
        request.ResourceSpans.Sum(r => r.ScopeSpans.Sum(s => s.Spans.Count) + r.InstrumentationLibrarySpans.Sum(s => s.Spans.Count));
#pragma warning restore CS0612

    private static DateTimeOffset? Time(ulong unixNanos)
    {
        if (unixNanos == 0)
        {
            return null;
        }

        ulong ticks = unixNanos / 100;
        // Out of range is kept out of range (the event's timestamp check refuses it), never wrapped to a plausible date.
        return ticks > (ulong)(DateTimeOffset.MaxValue - DateTimeOffset.UnixEpoch).Ticks
            ? DateTimeOffset.MaxValue
            : DateTimeOffset.UnixEpoch.AddTicks((long)ticks);
    }

    private static IReadOnlyDictionary<string, object> Attributes(IEnumerable<KeyValue>? attributes)
    {
        var result = new Dictionary<string, object>(StringComparer.Ordinal);
        if (attributes is null)
        {
            return result;
        }

        foreach (KeyValue attribute in attributes)
        {
            // The first of repeated keys wins, as the OTLP collector does.
            if (attribute.Key.Length > 0 && !result.ContainsKey(attribute.Key) && Value(attribute.Value) is { } value)
            {
                result[attribute.Key] = value;
            }
        }

        return result;
    }

    private static object? Value(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue,
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue,
        AnyValue.ValueOneofCase.ArrayValue => value.ArrayValue.Values.Select(Value).OfType<object>().ToArray(),
        _ => null,
    };

    /// <summary>OTLP JSON carries trace and span ids as hex; protobuf's JSON mapping expects base64 for bytes.</summary>
    private static FieldError? HexIdsToBase64(JsonNode node, string path)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach ((string name, JsonNode? child) in obj.ToList())
                {
                    string childPath = $"{path}.{name}";
                    if (name is "traceId" or "spanId" or "parentSpanId" or "trace_id" or "span_id" or "parent_span_id"
                        && child is JsonValue id && id.TryGetValue(out string? hex))
                    {
                        if (hex.Length % 2 != 0 || !hex.All(char.IsAsciiHexDigit))
                        {
                            return new FieldError(JsonInputPolicy.FieldFromPath(childPath), "must be a hex-encoded id (OTLP JSON)");
                        }

                        obj[name] = Convert.ToBase64String(Convert.FromHexString(hex));
                    }
                    else if (child is not null && HexIdsToBase64(child, childPath) is { } problem)
                    {
                        return problem;
                    }
                }

                return null;
            case JsonArray array:
                for (int i = 0; i < array.Count; i++)
                {
                    if (array[i] is { } item && HexIdsToBase64(item, $"{path}[{i.ToString(CultureInfo.InvariantCulture)}]") is { } problem)
                    {
                        return problem;
                    }
                }

                return null;
            default:
                return null;
        }
    }

    private static async Task<(byte[]? Bytes, bool TooLarge)> ReadAtMostAsync(Stream stream, long maxBytes, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return (null, true);
            }

            buffer.Write(chunk, 0, read);
        }

        return (buffer.ToArray(), false);
    }

    private static string Shorten(string text) => text.Length > 200 ? text[..200] + "…" : text;
}
