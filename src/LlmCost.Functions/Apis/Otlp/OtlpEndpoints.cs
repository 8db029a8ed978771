using LlmCost.Core;
using System.Diagnostics.Metrics;
using Google.Protobuf;
using LlmCost.Core.Recording;
using LlmCost.Core.Telemetry;
using LlmCost.Functions.Apis.Recording;
using Microsoft.Extensions.Options;
using Opentelemetry.Proto.Collector.Trace.V1;

namespace LlmCost.Functions.Apis.Otlp;

/// <summary>
/// The OTLP/HTTP trace receiver: <c>POST /v1/traces</c> takes what an OpenTelemetry SDK or collector exports, records
/// every GenAI model-call span through the same recorder as <c>POST /api/usage</c> (exactly once: the event id is
/// stable across resends) and answers an <c>ExportTraceServiceResponse</c> in the request's encoding, whose
/// <c>partial_success</c> counts and explains the GenAI spans it could not record. Spans that are not GenAI model
/// calls (HTTP, database, agent and tool spans) are accepted and counted, not recorded.
/// </summary>
internal static partial class OtlpEndpoints
{
    private const int ExampleReasons = 5;

    private static readonly Counter<long> s_spans = LlmCostTelemetry.Meter.CreateCounter<long>(
        "llmcost.otlp.spans", unit: "{span}",
        description: "Spans received at /v1/traces by outcome (recorded, duplicate, rejected, not_genai, not_model_call) and, for rejected, reason");

    public static IEndpointRouteBuilder MapOtlpEndpoints(this IEndpointRouteBuilder endpoints)
    {
        // /v1/traces is where an exporter given the service's base URL posts. Behind the Azure Functions host only
        // /api/* reaches the app (route prefix "api"), so there the base URL is https://<app>/api and the exporter
        // posts to /api/v1/traces: the same receiver.
        Describe(endpoints.MapPost("/v1/traces", ExportAsync).WithName("ExportTraces"));
        Describe(endpoints.MapPost("/api/v1/traces", ExportAsync).WithName("ExportTracesUnderApi"));
        return endpoints;
    }

    private static void Describe(RouteHandlerBuilder endpoint) =>
        endpoint.RequireAuthorization(LlmCostAuth.IngestPolicy).WithTags("OpenTelemetry")
            .WithMetadata(new OwnBodyPolicy())
            .Accepts<Stream>(OtlpTraceDecoder.Protobuf, OtlpTraceDecoder.Json)
            .Produces<Stream>(StatusCodes.Status200OK, OtlpTraceDecoder.Protobuf, OtlpTraceDecoder.Json)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .WithSummary("OTLP/HTTP trace export (protobuf or JSON, optionally gzip): GenAI spans are recorded as usage events.");

    private static async Task<IResult> ExportAsync(
        HttpRequest request,
        ClaimsPrincipal caller,
        UsageRecorder recorder,
        IOptions<OtlpIngestOptions> options,
        IOptions<UsageApiOptions> usageOptions,
        TimeProvider time,
        ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        OtlpIngestOptions settings = options.Value;
        string mediaType = request.ContentType is { } contentType ? contentType.Split(';')[0].Trim() : string.Empty;
        bool json = mediaType.Equals(OtlpTraceDecoder.Json, StringComparison.OrdinalIgnoreCase);
        if (!json && !mediaType.Equals(OtlpTraceDecoder.Protobuf, StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status415UnsupportedMediaType,
                title: "Unsupported media type",
                detail: $"Content-Type must be {OtlpTraceDecoder.Protobuf} or {OtlpTraceDecoder.Json} (OTLP/HTTP), got '{Shorten(mediaType)}'.");
        }

        (byte[]? body, FieldError? readProblem, bool tooLarge) = await OtlpTraceDecoder.ReadBodyAsync(request, settings.MaxBodyBytes, cancellationToken);
        if (tooLarge)
        {
            return TooLarge($"The export exceeds {settings.MaxBodyBytes} bytes (compressed or not); lower the exporter's batch size.");
        }

        if (readProblem is not null)
        {
            return ApiProblems.Field(readProblem.Field, readProblem.Message);
        }

        (ExportTraceServiceRequest? export, FieldError? problem) = OtlpTraceDecoder.Parse(body!, json);
        if (problem is not null)
        {
            return ApiProblems.Field(problem.Field, problem.Message);
        }

        int spanCount = OtlpTraceDecoder.CountSpans(export!);
        if (spanCount > settings.MaxSpansPerRequest)
        {
            return TooLarge($"The export holds {spanCount} spans, more than {settings.MaxSpansPerRequest}; lower the exporter's batch size.");
        }

        GenAiSpanMapping mapping = settings.ToMapping();
        RecordingLimits limits = usageOptions.Value.ToLimits();
        DateTimeOffset now = time.GetUtcNow();
        var submissions = new List<(UsageSubmission Submission, string SpanId)>();
        var rejections = new List<string>();
        foreach (TelemetrySpan span in OtlpTraceDecoder.Spans(export!))
        {
            GenAiSpanResult result = GenAiSpanMapper.Map(span, mapping, limits, now);
            switch (result.Outcome)
            {
                case GenAiSpanOutcome.NotGenAi:
                    Count("not_genai");
                    continue;
                case GenAiSpanOutcome.NotAModelCall:
                    Count("not_model_call");
                    continue;
                case GenAiSpanOutcome.Rejected:
                    Reject(rejections, span, result.ReasonCode!, result.Reason!);
                    continue;
            }

            UsageSubmission submission = result.Submission!;
            if (caller.IsAdmin() && submission.TenantId is null)
            {
                Reject(rejections, span, "no_tenant", $"names no tenant ({string.Join(" / ", mapping.TenantAttributes)}), which an admin key must");
                continue;
            }

            // A tenant key naming another tenant is refused as a whole, before anything is written (as POST /api/usage).
            if (!caller.TryResolveTenant(submission.TenantId, out string? tenantId, out IResult? denied, mapping.TenantAttributes[0]))
            {
                return denied;
            }

            submissions.Add((submission with { TenantId = tenantId }, span.SpanId));
        }

        int batchSize = Math.Max(1, usageOptions.Value.MaxEventsPerRequest);
        for (int start = 0; start < submissions.Count; start += batchSize)
        {
            List<(UsageSubmission Submission, string SpanId)> batch = submissions.GetRange(start, Math.Min(batchSize, submissions.Count - start));
            while (batch.Count > 0)
            {
                try
                {
                    RecordBatchResult recorded = await recorder.RecordAsync(batch.Select(b => b.Submission).ToList(), cancellationToken);
                    int duplicates = recorded.Outcomes.Count(o => o.Duplicate);
                    Count("recorded", recorded.Outcomes.Count - duplicates);
                    Count("duplicate", duplicates);
                    break;
                }
                catch (UsageEventTooLargeException tooLargeEvent)
                {
                    // Refused before any write: drop that span, say why, record the others.
                    (UsageSubmission _, string spanId) = batch[tooLargeEvent.Index];
                    rejections.Add($"span {spanId}: {tooLargeEvent.Field} {tooLargeEvent.Reason}");
                    Count("rejected", reason: "too_large");
                    batch.RemoveAt(tooLargeEvent.Index);
                }
            }
        }

        var response = new ExportTraceServiceResponse();
        if (rejections.Count > 0)
        {
            LogRejected(loggers.CreateLogger(typeof(OtlpEndpoints).FullName!), rejections.Count, spanCount);
            response.PartialSuccess = new ExportTracePartialSuccess
            {
                RejectedSpans = rejections.Count,
                ErrorMessage = $"{rejections.Count} GenAI span(s) not recorded: " + string.Join("; ", rejections.Take(ExampleReasons))
                    + (rejections.Count > ExampleReasons ? $"; and {rejections.Count - ExampleReasons} more" : string.Empty),
            };
        }

        // OTLP/HTTP: the answer is in the request's encoding.
        return json
            ? TypedResults.Text(OtlpTraceDecoder.JsonWriter.Format(response), OtlpTraceDecoder.Json)
            : TypedResults.Bytes(response.ToByteArray(), OtlpTraceDecoder.Protobuf);
    }

    private static void Reject(List<string> rejections, TelemetrySpan span, string code, string reason)
    {
        Count("rejected", reason: code);
        string name = span.Name.Length > 60 ? span.Name[..60] + "…" : span.Name;
        rejections.Add($"span {(span.SpanId.Length > 0 ? span.SpanId : "(no id)")} '{name}' {reason}");
    }

    private static void Count(string outcome, long count = 1, string? reason = null)
    {
        if (count > 0)
        {
            s_spans.Add(count, new KeyValuePair<string, object?>("outcome", outcome), new KeyValuePair<string, object?>("reason", reason ?? string.Empty));
        }
    }

    private static IResult TooLarge(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large", detail: detail);

    private static string Shorten(string text) => text.Length > 80 ? text[..80] + "…" : text;

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "OTLP export: {Rejected} of {Spans} spans rejected (see the partial_success answer and llmcost.otlp.spans)")]
    private static partial void LogRejected(ILogger logger, int rejected, int spans);
}
