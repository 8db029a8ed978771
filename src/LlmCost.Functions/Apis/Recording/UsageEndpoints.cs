// Long on purpose: record, price and the usage queries share the range, tenant and id checks at the bottom; each endpoint
// itself is bind, check access, one Core call, map.
using System.Text.Json;
using LlmCost.Core;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Retention;
using LlmCost.Storage;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Apis.Recording;

/// <summary>
/// The usage HTTP API: record (POST /api/usage), price (POST /api/price), query (users/teams/tenants usage,
/// user events). Thin: parse, authorise, call Core, map outcomes.
/// </summary>
internal static partial class UsageEndpoints
{
    public static IEndpointRouteBuilder MapUsageEndpoints(this IEndpointRouteBuilder endpoints)
    {
        RouteGroupBuilder api = endpoints.MapGroup("/api").WithTags("Usage");

        api.MapPost("/usage", RecordAsync).RequireAuthorization(LlmCostAuth.IngestPolicy).WithName("RecordUsage")
            .Accepts<UsageWire.UsageEventBody>("application/json")
            .Produces<UsageWire.RecordResult>().WithMetadata(new DocumentedQuery("import"))
            .WithSummary("Record one event or {\"events\":[...]}; exactly once per event_id.")
            .WithDescription("A single event answers a RecordResult; a batch {\"events\":[...]} answers {\"results\":[RecordResult...],\"recorded\":n,\"duplicates\":n}.");
        api.MapPost("/price", PriceAsync).RequireAuthorization().WithName("PriceUsage")
            .Accepts<UsageWire.UsageEventBody>("application/json")
            .Produces<UsageWire.QuoteResponse>()
            .WithSummary("Price one call without recording it.");
        api.MapGet("/users/{userId}/usage", (string userId, HttpContext http, UsageQueryService queries, IOptions<UsageApiOptions> options, TimeProvider time, CancellationToken ct) =>
            UsageAsync(UsageScopeKind.User, userId, http, queries, options, time, ct)).RequireAuthorization(LlmCostAuth.ReaderPolicy).WithName("GetUserUsage")
            .Produces<UsageWire.UsageResponse>().WithMetadata(new DocumentedQuery("tenant_id", "from", "to", "granularity", "group_by", "currency"))
            .WithSummary("A user's usage over [from, to): totals and a series per hour, day or month, optionally by provider or model.");
        api.MapGet("/teams/{teamId}/usage", (string teamId, HttpContext http, UsageQueryService queries, IOptions<UsageApiOptions> options, TimeProvider time, CancellationToken ct) =>
            UsageAsync(UsageScopeKind.Team, teamId, http, queries, options, time, ct)).RequireAuthorization(LlmCostAuth.ReaderPolicy).WithName("GetTeamUsage")
            .Produces<UsageWire.UsageResponse>().WithMetadata(new DocumentedQuery("tenant_id", "from", "to", "granularity", "group_by", "currency"))
            .WithSummary("A team's usage over [from, to): totals and a series per hour, day or month, optionally by provider or model.");
        api.MapGet("/tenants/{tenantId}/usage", (string tenantId, HttpContext http, UsageQueryService queries, IOptions<UsageApiOptions> options, TimeProvider time, CancellationToken ct) =>
            UsageAsync(UsageScopeKind.Tenant, tenantId, http, queries, options, time, ct)).RequireAuthorization(LlmCostAuth.ReaderPolicy).WithName("GetTenantUsage")
            .Produces<UsageWire.UsageResponse>().WithMetadata(new DocumentedQuery("tenant_id", "from", "to", "granularity", "group_by", "currency"))
            .WithSummary("A tenant's usage over [from, to): totals and a series per hour, day or month, optionally by provider or model.");
        api.MapGet("/users/{userId}/events", EventsAsync).RequireAuthorization(LlmCostAuth.ReaderPolicy).WithName("ListUserEvents")
            .Produces<UsageWire.EventsResponse>().WithMetadata(new DocumentedQuery("tenant_id", "from", "to", "page_size", "continuation_token"))
            .WithSummary("A user's recorded events over [from, to), a page at a time (continuation_token).");
        return endpoints;
    }

    private static async Task<IResult> RecordAsync(
        HttpRequest request,
        ClaimsPrincipal caller,
        UsageRecorder recorder,
        IOptions<UsageApiOptions> options,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        UsageApiOptions settings = options.Value;
        (JsonDocument? document, IResult? problem) = await JsonBody.ReadAsync(request, settings.MaxBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        using (document)
        {
            JsonElement root = document!.RootElement;
            bool batch = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("events", out _);
            var elements = new List<(JsonElement Element, string Prefix)>();
            if (batch)
            {
                JsonElement events = root.GetProperty("events");
                if (events.ValueKind != JsonValueKind.Array)
                {
                    return ApiProblems.Field("events", "must be an array of events");
                }

                int count = events.GetArrayLength();
                if (count == 0 || count > settings.MaxEventsPerRequest)
                {
                    return ApiProblems.Field("events", $"must hold 1 to {settings.MaxEventsPerRequest} events (got {count})");
                }

                if (settings.StrictMode)
                {
                    foreach (JsonProperty property in root.EnumerateObject())
                    {
                        if (property.Name != "events")
                        {
                            return ApiProblems.Field(property.Name, "is not a known field (strict mode)");
                        }
                    }
                }

                int i = 0;
                foreach (JsonElement e in events.EnumerateArray())
                {
                    elements.Add((e, $"events[{i++}]."));
                }
            }
            else
            {
                elements.Add((root, string.Empty));
            }

            DateTimeOffset now = time.GetUtcNow();
            RecordingLimits limits = settings.ToLimits();
            // ?import=true (admin only): history older than the ingest window, up to the import window, through the
            // same recording path (so it reaches summaries, scopes and rollups).
            string import = request.Query["import"].ToString();
            if (import.Length > 0)
            {
                if (import is not ("true" or "false"))
                {
                    return ApiProblems.Field("import", "must be true or false");
                }

                if (import == "true")
                {
                    if (!caller.IsAdmin())
                    {
                        return CallerAccess.Forbidden("import=true needs an admin key");
                    }

                    limits = limits with { MaxAge = settings.MaxImportAge };
                }
            }

            var errors = new List<FieldError>();
            var submissions = new List<UsageSubmission>(elements.Count);
            foreach ((JsonElement element, string prefix) in elements)
            {
                UsageSubmission? submission = UsageSubmissionParser.Parse(element, prefix, limits, now, errors);
                if (submission is not null)
                {
                    submissions.Add(submission);
                }
            }

            if (errors.Count > 0)
            {
                return Invalid(errors);
            }

            // Every event's tenant is authorised before anything is written: one bad event rejects the request.
            for (int i = 0; i < submissions.Count; i++)
            {
                if (!caller.TryResolveTenant(submissions[i].TenantId, out string? tenantId, out IResult? denied, elements[i].Prefix + "tenant_id"))
                {
                    return denied;
                }

                submissions[i] = submissions[i] with { TenantId = tenantId };
            }

            RecordBatchResult result;
            try
            {
                result = await recorder.RecordAsync(submissions, cancellationToken);
            }
            catch (UsageEventTooLargeException tooLarge)
            {
                // A storage row limit (the store refused before writing anything): a decision naming the field.
                return Invalid([new FieldError(elements[tooLarge.Index].Prefix + tooLarge.Field, tooLarge.Reason)]);
            }

            if (result.Rejected is { Count: > 0 } rejected)
            {
                // An admission check (e.g. a reservation_id that is not the caller's) refused it before any write.
                return Invalid(rejected.Select(r => new FieldError(elements[r.Index].Prefix + r.Field, r.Message)).ToList());
            }

            if (!batch)
            {
                return TypedResults.Ok(UsageWire.From(result.Outcomes[0]));
            }

            int duplicates = result.Outcomes.Count(o => o.Duplicate);
            return TypedResults.Ok(new UsageWire.RecordBatchResponse(
                result.Outcomes.Select(UsageWire.From).ToList(), result.Outcomes.Count - duplicates, duplicates));
        }
    }

    private static async Task<IResult> PriceAsync(
        HttpRequest request,
        ClaimsPrincipal caller,
        UsageRecorder recorder,
        IOptions<UsageApiOptions> options,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        (JsonDocument? document, IResult? problem) = await JsonBody.ReadAsync(request, options.Value.MaxBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        using (document)
        {
            DateTimeOffset now = time.GetUtcNow();
            var errors = new List<FieldError>();
            UsageSubmission? submission = UsageSubmissionParser.Parse(
                document!.RootElement, string.Empty, options.Value.ToLimits(), now, errors, requireUser: false);
            if (submission is null)
            {
                return Invalid(errors);
            }

            // Admins may price at list prices (no tenant); other keys always see their own tenant's prices.
            string? tenantId = null;
            if (!caller.IsAdmin() || submission.TenantId is not null)
            {
                if (!caller.TryResolveTenant(submission.TenantId, out tenantId, out IResult? denied))
                {
                    return denied;
                }
            }

            PriceQuote quote = await recorder.QuoteAsync(submission, tenantId, (submission.Timestamp ?? now).ToUniversalTime(), cancellationToken);
            return TypedResults.Ok(UsageWire.From(quote, submission.Usage, submission.ReportedCostUsd));
        }
    }

    private static async Task<IResult> UsageAsync(
        UsageScopeKind kind, string id, HttpContext http, UsageQueryService queries, IOptions<UsageApiOptions> options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        ClaimsPrincipal caller = http.User;
        IQueryCollection query = http.Request.Query;
        UsageApiOptions settings = options.Value;

        string idField = kind switch { UsageScopeKind.User => "userId", UsageScopeKind.Team => "teamId", _ => "tenantId" };
        if (RecordKeys.Problem(id) is { } idProblem)
        {
            return ApiProblems.Field(idField, idProblem);
        }

        string? requestedTenant = kind == UsageScopeKind.Tenant ? id : query["tenant_id"].ToString();
        if (!caller.TryResolveTenant(string.IsNullOrEmpty(requestedTenant) ? null : requestedTenant, out string? tenantId, out IResult? denied))
        {
            return denied;
        }

        IResult? isolation = kind == UsageScopeKind.User ? caller.CheckUserAccess(id) : caller.CheckScopeAccess();
        if (isolation is not null)
        {
            return isolation;
        }

        if (!TryReadRange(query, time.GetUtcNow(), settings.MaxQueryDays, out DateTimeOffset from, out DateTimeOffset to, out IResult? rangeProblem))
        {
            return rangeProblem;
        }

        if (!UsageQuery.TryParseGranularity(query["granularity"].ToString(), out UsageGranularity granularity))
        {
            return ApiProblems.Field("granularity", "must be hour, day or month");
        }

        if (!UsageQuery.TryParseGroupBy(query["group_by"].ToString(), out UsageGroupBy groupBy))
        {
            return ApiProblems.Field("group_by", "must be provider or model");
        }

        UsageScope scope = kind switch
        {
            UsageScopeKind.User => UsageScope.User(tenantId, id),
            UsageScopeKind.Team => UsageScope.Team(tenantId, id),
            _ => UsageScope.Tenant(tenantId),
        };
        // One rate for the whole answer: the newest configured on or before the range's last day.
        if (!Pricing.CurrencyQuery.TryRead(http, DateOnly.FromDateTime((to < time.GetUtcNow() ? to : time.GetUtcNow()).UtcDateTime.AddTicks(-1)), out var currency, out IResult? currencyProblem))
        {
            return currencyProblem;
        }

        // Days past raw retention have no summaries left: they are answered from the rollups, and said so.
        (UsageReport report, ArchivedUsageSlice? archived) = await queries.QueryAsync(scope, from, to, granularity, groupBy, cancellationToken);

        return TypedResults.Ok(new UsageWire.UsageResponse(
            kind.ToString().ToLowerInvariant(), id, tenantId, from, to, granularity.ToString().ToLowerInvariant(),
            groupBy == UsageGroupBy.None ? null : groupBy.ToString().ToLowerInvariant(),
            UsageWire.From(report.Total) with { Cost = currency?.Convert(report.Total.CostUsd) },
            report.Series.Select(p => UsageWire.From(p) with { Cost = currency?.Convert(p.Totals.CostUsd) }).ToList(),
            archived is null ? null : new UsageWire.ArchivedPart(from, archived.Before < to ? archived.Before : to, "rollups", ArchivedUsage.NotKept),
            currency?.Wire));
    }

    private static async Task<IResult> EventsAsync(
        string userId,
        HttpContext http,
        IUsageEventReader reader,
        IOptions<UsageApiOptions> options,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        ClaimsPrincipal caller = http.User;
        IQueryCollection query = http.Request.Query;
        if (RecordKeys.Problem(userId) is { } idProblem)
        {
            return ApiProblems.Field("userId", idProblem);
        }

        string? requestedTenant = query["tenant_id"].ToString();
        if (!caller.TryResolveTenant(string.IsNullOrEmpty(requestedTenant) ? null : requestedTenant, out string? tenantId, out IResult? denied))
        {
            return denied;
        }

        if (caller.CheckUserAccess(userId) is { } isolation)
        {
            return isolation;
        }

        if (!TryReadRange(query, time.GetUtcNow(), options.Value.MaxQueryDays, out DateTimeOffset from, out DateTimeOffset to, out IResult? rangeProblem))
        {
            return rangeProblem;
        }

        int pageSize = options.Value.DefaultPageSize;
        string pageText = query["page_size"].ToString();
        if (pageText.Length > 0 && (!int.TryParse(pageText, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize < 1 || pageSize > options.Value.MaxPageSize))
        {
            return ApiProblems.Field("page_size", $"must be a whole number from 1 to {options.Value.MaxPageSize}");
        }

        string? token = query["continuation_token"].ToString() is { Length: > 0 } t ? t : null;
        try
        {
            UsageEventPage page = await reader.ReadUserEventsPageAsync(tenantId, userId, from, to, pageSize, token, cancellationToken);
            // Events of days past raw retention live only in the archives: say so instead of an empty page.
            DateTimeOffset? archivedBefore = http.RequestServices.GetService<RetentionOptions>() is { } retention
                && new DateTimeOffset(retention.RawCutoff(time.GetUtcNow()).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) is var cutoff && from < cutoff
                ? cutoff
                : null;
            return TypedResults.Ok(new UsageWire.EventsResponse(page.Events.Select(UsageWire.From).ToList(), page.ContinuationToken, archivedBefore));
        }
        catch (FormatException)
        {
            return ApiProblems.Field("continuation_token", "is not a token returned by this query");
        }
    }

    /// <summary>from/to: ISO dates (00:00 UTC) or date-times with an offset; half-open [from, to). Default: the last 30 days.</summary>
    internal static bool TryReadRange(
        IQueryCollection query, DateTimeOffset now, int maxDays, out DateTimeOffset from, out DateTimeOffset to,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out IResult? problem)
    {
        problem = null;
        from = to = default;
        DateTimeOffset defaultTo = UsageQuery.PeriodStart(now, UsageGranularity.Hour).AddHours(1);
        if (!TryReadInstant(query["to"].ToString(), defaultTo, out to))
        {
            problem = ApiProblems.Field("to", "must be a date (2025-03-10) or a date-time with an offset (2025-03-10T14:00:00Z)");
            return false;
        }

        if (!QueryDates.InRange(to))
        {
            problem = ApiProblems.Field("to", QueryDates.Problem);
            return false;
        }

        if (!TryReadInstant(query["from"].ToString(), to.AddDays(-30), out from))
        {
            problem = ApiProblems.Field("from", "must be a date (2025-03-10) or a date-time with an offset (2025-03-10T14:00:00Z)");
            return false;
        }

        if (!QueryDates.InRange(from))
        {
            problem = ApiProblems.Field("from", QueryDates.Problem);
            return false;
        }

        if (from >= to)
        {
            problem = ApiProblems.Field("from", "must be before to");
            return false;
        }

        if ((to - from).TotalDays > maxDays)
        {
            problem = ApiProblems.Field("to", $"the range may cover at most {maxDays} days");
            return false;
        }

        return true;
    }

    private static bool TryReadInstant(string text, DateTimeOffset fallback, out DateTimeOffset value)
    {
        value = fallback;
        if (text.Length == 0)
        {
            return true;
        }

        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly date))
        {
            value = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            return true;
        }

        bool hasOffset = text.EndsWith('Z') || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
        return hasOffset && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out value);
    }

    private static IResult Invalid(List<FieldError> errors) => ApiProblems.Validation(errors, "Invalid usage event");
}
