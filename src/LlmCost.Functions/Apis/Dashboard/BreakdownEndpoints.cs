using LlmCost.Core.Recording;
using LlmCost.Core.Retention;
using LlmCost.Functions.Apis.Recording;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Apis.Dashboard;

/// <summary>
/// Read endpoints the dashboard needs and the usage API lacked: who a key is, and usage broken down by provider,
/// model, team, user, app or key (overall and per period, with shares) under filters, so every figure the page
/// shows is a server-side sum of exact decimals. App and key are not in the summaries: those breakdowns (and the
/// app filter) sum the range's events, so they are bounded to <see cref="MaxEventDays"/> days.
/// </summary>
internal static class BreakdownEndpoints
{
    /// <summary>Longest range a breakdown by app or key (summed from the events, not the summaries) covers.</summary>
    public const int MaxEventDays = 31;

    public sealed record WhoAmIResponse(string Role, string? TenantId, string? UserId, string? KeyId);

    public sealed record GroupView(string? Key, string? CostShare, UsageWire.Totals Totals);

    public sealed record PointView(DateTimeOffset PeriodStart, string? Key, string CostUsd, long Events, long InputTokens, long OutputTokens, long UnpricedEvents, long ErrorEvents);

    public sealed record BreakdownResponse(
        string TenantId, string Scope, string? ScopeId, DateTimeOffset From, DateTimeOffset To, string Granularity, string By,
        UsageWire.Totals Total, IReadOnlyList<GroupView> Groups, IReadOnlyList<PointView> Series, DateTimeOffset? ArchivedBefore, string TimeZone);

    public static IEndpointRouteBuilder MapBreakdownEndpoints(this IEndpointRouteBuilder endpoints)
    {
        RouteGroupBuilder api = endpoints.MapGroup("/api").WithTags("Dashboard");
        api.MapGet("/whoami", WhoAmI).RequireAuthorization().WithName("WhoAmI")
            .Produces<WhoAmIResponse>()
            .WithSummary("The calling key's role, tenant and bound user (never the key).");
        api.MapGet("/usage/breakdown", BreakdownAsync).RequireAuthorization(LlmCostAuth.ReaderPolicy).WithName("GetUsageBreakdown")
            .Produces<BreakdownResponse>()
            .WithMetadata(new DocumentedQuery("tenant_id", "user_id", "team_id", "provider", "model", "app", "from", "to", "granularity", "by", "tz"))
            .WithSummary("Usage by provider, model, team, user, app or key with shares and per-period series (in the IANA time zone tz, UTC by default); filters tenant_id, user_id, team_id, provider, model, app.");
        return endpoints;
    }

    private static WhoAmIResponse WhoAmI(ClaimsPrincipal caller) => new(
        caller.Role() ?? "unknown", caller.FindFirstValue(LlmCostAuth.TenantClaim), caller.BoundUser(), caller.FindFirstValue(LlmCostAuth.KeyIdClaim));

    private static async Task<IResult> BreakdownAsync(
        HttpContext http, IUsageSummaryReader reader, IOptions<UsageApiOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        ClaimsPrincipal caller = http.User;
        IQueryCollection query = http.Request.Query;
        if (!TryReadScope(caller, query, out UsageScope scope, out UsageFilter? filter, out IResult? problem))
        {
            return problem;
        }

        if (!UsageEndpoints.TryReadRange(query, time.GetUtcNow(), options.Value.MaxQueryDays, out DateTimeOffset from, out DateTimeOffset to, out IResult? rangeProblem))
        {
            return rangeProblem;
        }

        if (!UsageQuery.TryParseGranularity(query["granularity"].ToString(), out UsageGranularity granularity))
        {
            return ApiProblems.Field("granularity", "must be hour, day or month");
        }

        if (!UsageBreakdown.TryParseDimension(query["by"].ToString(), out UsageDimension by))
        {
            return ApiProblems.Field("by", "must be provider, model, team, user, app or key");
        }

        // Hours, days and months of a time zone: usage is kept per UTC hour, so a zone whose offset is not a whole
        // number of hours (Asia/Kolkata) cannot regroup it exactly and is refused rather than approximated.
        TimeZoneInfo? zone = null;
        string zoneName = "UTC";
        if (query["tz"].ToString() is { Length: > 0 } tz && tz != "UTC")
        {
            if (tz.Length > 64 || !TimeZoneInfo.TryFindSystemTimeZoneById(tz, out zone) || !zone.HasIanaId)
            {
                return ApiProblems.Field("tz", "must be an IANA time zone name (Europe/Berlin, America/New_York, UTC)");
            }

            if (!UsageQuery.HourAligned(zone, from, to))
            {
                return ApiProblems.Field("tz", "its offset from UTC is not a whole number of hours in this range; usage is kept per UTC hour");
            }

            zoneName = zone.Id;
            zone = UsageQuery.IsUtcThroughout(zone, from, to) ? null : zone;
        }

        bool fromEvents = UsageBreakdown.NeedsEvents(by, filter);
        if (fromEvents && (to - from).TotalDays > MaxEventDays)
        {
            return ApiProblems.Field(filter.App is not null ? "app" : "by", $"app and key are summed from the events: at most {MaxEventDays} days per request");
        }

        if (granularity == UsageGranularity.Hour && (to - from).TotalDays > 31)
        {
            return ApiProblems.Field("granularity", "hour: at most 31 days per request");
        }

        // Days past raw retention keep no per-bucket split: the breakdown covers the days after them and says so.
        ArchivedUsageSlice? archived = http.RequestServices.GetService<ArchivedUsage>() is { } history
            ? await history.ReadAsync(scope, from, to, granularity, cancellationToken)
            : null;
        if (archived is not null && zone is not null)
        {
            return ApiProblems.Field("tz", $"days before {archived.Before:yyyy-MM-dd} are past raw retention and kept per UTC day only");
        }

        DateTimeOffset liveFrom = archived is null ? from : archived.Before;
        DateOnly fromDay = DateOnly.FromDateTime(liveFrom.UtcDateTime), toDay = DateOnly.FromDateTime(to.UtcDateTime.AddTicks(-1));
        // Whole UTC days by day or month, not by user: the team's or tenant's day rows answer it (a few rows per day
        // whatever the number of users); anything finer sums the hour copies of every user.
        bool byDay = by != UsageDimension.User && granularity != UsageGranularity.Hour && zone is null
            && liveFrom.UtcTicks % TimeSpan.TicksPerDay == 0 && to.UtcTicks % TimeSpan.TicksPerDay == 0;
        IReadOnlyList<UsageBucket> buckets = liveFrom >= to ? []
            : fromEvents ? await ReadEventBucketsAsync(http.RequestServices.GetRequiredService<IUsageEventReader>(), scope, liveFrom, to, cancellationToken)
            : byDay ? await reader.ReadDayBucketsAsync(scope, fromDay, toDay, cancellationToken)
            : await reader.ReadBucketsAsync(scope, fromDay, toDay, cancellationToken);
        UsageBreakdownReport report = UsageBreakdown.Aggregate(buckets, liveFrom, to, granularity, by, filter, zone);
        return TypedResults.Ok(new BreakdownResponse(
            scope.TenantId, scope.Kind.ToString().ToLowerInvariant(), scope.Id, from, to, granularity.ToString().ToLowerInvariant(),
            by.ToString().ToLowerInvariant(), UsageWire.From(report.Total),
            report.Groups.Select(g => new GroupView(g.Key, g.CostShare?.ToString("0.######", CultureInfo.InvariantCulture), UsageWire.From(g.Totals))).ToList(),
            report.Series.Select(p => new PointView(p.PeriodStart, p.Key, UsageWire.Money(p.Totals.CostUsd), p.Totals.Events, p.Totals.InputTokens,
                p.Totals.OutputTokens, p.Totals.UnpricedEvents, p.Totals.ErrorEvents)).ToList(),
            archived is null ? null : (archived.Before < to ? archived.Before : to), zoneName));
    }

    /// <summary>The range's events as hour buckets that keep app and key (the summaries keep neither).</summary>
    internal static async Task<IReadOnlyList<UsageBucket>> ReadEventBucketsAsync(
        IUsageEventReader events, UsageScope scope, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        // A summary counts an hour bucket when its hour STARTS in [from, to): the same events are read here, so both
        // ways give the same total for any range.
        static DateTimeOffset HourCeiling(DateTimeOffset t) =>
            UsageQuery.PeriodStart(t, UsageGranularity.Hour) is var floor && floor == t ? t : floor.AddHours(1);
        var read = new List<UsageEvent>();
        await foreach (UsageEvent e in events.ReadScopeEventsAsync(scope, HourCeiling(from), HourCeiling(to), cancellationToken))
        {
            read.Add(e);
        }

        return UsageBucket.HoursOf(read);
    }

    /// <summary>
    /// The narrowest stored scope the filters name (user, else team, else tenant), checked against the key, and
    /// the remaining filters applied to its buckets. A reader bound to a user must name that user (as with the usage
    /// API, anything wider is a 403).
    /// </summary>
    internal static bool TryReadScope(
        ClaimsPrincipal caller, IQueryCollection query, out UsageScope scope,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out UsageFilter? filter,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out IResult? problem)
    {
        scope = default;
        filter = null;
        string? requestedTenant = Optional(query, "tenant_id");
        if (!caller.TryResolveTenant(requestedTenant, out string? tenantId, out problem))
        {
            return false;
        }

        string? userId = Optional(query, "user_id");
        string? teamId = Optional(query, "team_id");
        foreach ((string field, string? value) in new[] { ("user_id", userId), ("team_id", teamId) })
        {
            if (value is not null && RecordKeys.Problem(value) is { } invalid)
            {
                problem = ApiProblems.Field(field, invalid);
                return false;
            }
        }

        foreach (string field in new[] { "provider", "model", "app" })
        {
            if (Optional(query, field) is { Length: > 256 })
            {
                problem = ApiProblems.Field(field, "may be at most 256 characters");
                return false;
            }
        }

        problem = userId is not null ? caller.CheckUserAccess(userId) : caller.CheckScopeAccess();
        if (problem is not null)
        {
            return false;
        }

        scope = userId is not null ? UsageScope.User(tenantId, userId)
            : teamId is not null ? UsageScope.Team(tenantId, teamId)
            : UsageScope.Tenant(tenantId);
        // The team is a filter too under a user scope: a user's buckets carry the team of each call.
        filter = new UsageFilter(userId is not null ? teamId : null, Optional(query, "provider"), Optional(query, "model"), Optional(query, "app"));
        return true;
    }

    private static string? Optional(IQueryCollection query, string name) =>
        query[name].ToString() is { Length: > 0 } value ? value : null;
}
