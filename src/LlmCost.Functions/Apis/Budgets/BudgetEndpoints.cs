using LlmCost.Core.Alerts;
using LlmCost.Core.Budgets;
using Microsoft.AspNetCore.Mvc;

namespace LlmCost.Functions.Apis.Budgets;

/// <summary>
/// HTTP surface of the budgets: parse, check the caller's tenant, call <see cref="BudgetService"/>, map outcomes.
/// A denial is a 200 decision; 4xx are for bad requests and name the field.
/// </summary>
public static class BudgetEndpoints
{
    public static IEndpointRouteBuilder MapBudgetEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var budgets = endpoints.MapGroup("/api/budgets").WithTags("Budgets");

        budgets.MapPost("/", CreateAsync).WithName("CreateBudget").RequireAuthorization(LlmCostAuth.AdminPolicy)
            .Produces<BudgetResponse>(StatusCodes.Status201Created)
            .WithSummary("Creates a budget (USD or tokens per period, soft or hard) for a tenant, team, user or key.");
        budgets.MapGet("/", ListAsync).WithName("ListBudgets").RequireAuthorization(LlmCostAuth.ReaderPolicy).Produces<BudgetListResponse>()
            .WithSummary("The tenant's budgets (a reader bound to a user sees only its own).");
        budgets.MapGet("/{budgetId}", GetAsync).WithName("GetBudget").RequireAuthorization(LlmCostAuth.ReaderPolicy).Produces<BudgetResponse>()
            .WithSummary("One budget's definition.");
        budgets.MapPut("/{budgetId}", UpdateAsync).WithName("UpdateBudget").RequireAuthorization(LlmCostAuth.AdminPolicy).Produces<BudgetResponse>()
            .WithSummary("Replaces a budget's definition.");
        budgets.MapDelete("/{budgetId}", DeleteAsync).WithName("DeleteBudget").RequireAuthorization(LlmCostAuth.AdminPolicy).Produces(StatusCodes.Status204NoContent)
            .WithSummary("Deletes a budget.");
        budgets.MapGet("/{budgetId}/status", StatusAsync).WithName("GetBudgetStatus").RequireAuthorization(LlmCostAuth.ReaderPolicy).Produces<StatusResponse>()
            .WithMetadata(new DocumentedQuery("currency"))
            .WithSummary("The budget's spend, reservations, remaining amount and forecast in the current period (user_id: for one user of an every-user budget).");
        budgets.MapPost("/{budgetId}/breaker/reset", ResetBreakerAsync).WithName("ResetBudgetBreaker").RequireAuthorization(LlmCostAuth.AdminPolicy).Produces<StatusResponse>()
            .WithSummary("Closes the budget's tripped circuit breaker.");
        budgets.MapPost("/authorize", AuthorizeAsync).WithName("AuthorizeBudget").RequireAuthorization(LlmCostAuth.IngestPolicy).Produces<AuthorizeResponse>()
            .WithSummary("Before an LLM call: allow, deny or downgrade under every budget that applies, reserving the worst-case cost.");
        budgets.MapGet("/profiles", ListProfiles).WithName("ListBudgetProfiles").RequireAuthorization(LlmCostAuth.ReaderPolicy).Produces<ProfileListResponse>()
            .WithSummary("The budget profiles (development, production, enterprise) and the budgets each applies.");
        budgets.MapPost("/profiles", ApplyProfileAsync).WithName("ApplyBudgetProfile").RequireAuthorization(LlmCostAuth.AdminPolicy).Produces<ProfileAppliedResponse>()
            .WithSummary("Applies a budget profile to the tenant: the defaults every new user inherits.");
        budgets.MapPost("/freeze", (FreezeBody? body, ClaimsPrincipal caller, BudgetService service, CancellationToken ct) => FreezeAsync(body, caller, service, true, ct))
            .WithName("FreezeBudgetScope").RequireAuthorization(LlmCostAuth.AdminPolicy).Produces<FreezeResponse>()
            .WithSummary("Emergency stop: every call of a tenant, team, user or key is denied until unfrozen.");
        budgets.MapPost("/unfreeze", (FreezeBody? body, ClaimsPrincipal caller, BudgetService service, CancellationToken ct) => FreezeAsync(body, caller, service, false, ct))
            .WithName("UnfreezeBudgetScope").RequireAuthorization(LlmCostAuth.AdminPolicy).Produces<FreezeResponse>()
            .WithSummary("Lifts a freeze.");
        budgets.MapGet("/freezes", ListFreezesAsync).WithName("ListBudgetFreezes").RequireAuthorization(LlmCostAuth.ReaderPolicy).Produces<FreezeListResponse>()
            .WithSummary("The tenant's frozen scopes.");
        budgets.MapGet("/alerts", PendingAlertsAsync).WithName("ListPendingBudgetAlerts").RequireAuthorization(LlmCostAuth.ReaderPolicy).Produces<PendingAlertsResponse>()
            .WithSummary("Budget alerts not yet dispatched (thresholds, projected overrun, circuit breaker, overspend).");
        budgets.MapPost("/reservations/expire", ExpireAsync).WithName("ExpireBudgetReservations").RequireAuthorization(LlmCostAuth.AdminPolicy).Produces<ExpiredReservationsResponse>()
            .WithSummary("Runs the reservation expiry sweep now (a timer runs it every minute).");
        budgets.MapPost("/reservations/{reservationId}/release", ReleaseAsync).WithName("ReleaseBudgetReservation").RequireAuthorization(LlmCostAuth.IngestPolicy).Produces<ReleaseResponse>()
            .WithSummary("The call will not be made: stop counting its reservation's worst case now.");

        return endpoints;
    }

    private static async Task<IResult> CreateAsync(BudgetBody? body, ClaimsPrincipal caller, BudgetService service, CancellationToken cancellationToken)
    {
        if (body is null)
        {
            return ApiProblems.Field("body", "is required");
        }

        var result = await service.CreateAsync(body.ToDraft(), Actor(caller), cancellationToken).ConfigureAwait(false);
        return result.IsValid
            ? TypedResults.Created($"/api/budgets/{result.Value!.BudgetId}", BudgetResponse.From(result.Value))
            : Invalid(result.Errors);
    }

    private static async Task<IResult> ListAsync([FromQuery(Name = "tenant_id")] string? tenantId, ClaimsPrincipal caller, BudgetService service, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenantId, out var tenant, out var problem))
        {
            return problem;
        }

        var list = await service.ListAsync(tenant, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(new BudgetListResponse(tenant, list.Where(b => Access(caller, b, null) is null).Select(BudgetResponse.From).ToList()));
    }

    private static async Task<IResult> GetAsync(string budgetId, ClaimsPrincipal caller, BudgetService service, CancellationToken cancellationToken)
    {
        var budget = await service.GetAsync(budgetId, cancellationToken).ConfigureAwait(false);
        if (budget is null || Access(caller, budget, null) is not null)
        {
            return NotFound(budgetId);
        }

        return TypedResults.Ok(BudgetResponse.From(budget));
    }

    private static async Task<IResult> UpdateAsync(string budgetId, BudgetBody? body, ClaimsPrincipal caller, BudgetService service, CancellationToken cancellationToken)
    {
        if (body is null)
        {
            return ApiProblems.Field("body", "is required");
        }

        var result = await service.UpdateAsync(budgetId, body.ToDraft(), Actor(caller), cancellationToken).ConfigureAwait(false);
        if (result is null)
        {
            return NotFound(budgetId);
        }

        return result.IsValid ? TypedResults.Ok(BudgetResponse.From(result.Value!)) : Invalid(result.Errors);
    }

    private static async Task<IResult> DeleteAsync(string budgetId, ClaimsPrincipal caller, BudgetService service, CancellationToken cancellationToken) =>
        await service.DeleteAsync(budgetId, Actor(caller), cancellationToken).ConfigureAwait(false) ? TypedResults.NoContent() : NotFound(budgetId);

    private static async Task<IResult> StatusAsync(string budgetId, [FromQuery(Name = "user_id")] string? userId, ClaimsPrincipal caller, BudgetService service, HttpContext http, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!LlmCost.Functions.Apis.Pricing.CurrencyQuery.TryRead(http, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), out var currency, out var currencyProblem))
        {
            return currencyProblem;
        }

        var budget = await service.GetAsync(budgetId, cancellationToken).ConfigureAwait(false);
        if (budget is null || Access(caller, budget, null) is not null)
        {
            return NotFound(budgetId);
        }

        if (Access(caller, budget, userId) is { } forbidden)
        {
            return forbidden;
        }

        var status = await service.GetStatusAsync(budgetId, userId, cancellationToken).ConfigureAwait(false);
        if (status is null)
        {
            return NotFound(budgetId);
        }

        return status.IsValid ? TypedResults.Ok(WithCurrency(StatusResponse.From(status.Value!), currency)) : Invalid(status.Errors);
    }

    private static StatusResponse WithCurrency(StatusResponse status, LlmCost.Functions.Apis.Pricing.CurrencyQuery? currency)
    {
        if (currency is null || status.AmountUsd is null && status.SpentUsd is null)
        {
            return status;
        }

        static decimal Usd(string text) => decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture);
        return status with
        {
            Currency = new LlmCost.Functions.Apis.Pricing.BudgetCurrencyAmounts(
                currency.Wire,
                status.AmountUsd is { } amount ? currency.Convert(Usd(amount)) : null,
                currency.Convert(Usd(status.SpentUsd)),
                currency.Convert(Usd(status.ReservedUsd)),
                status.RemainingUsd is { } remaining ? currency.Convert(Usd(remaining)) : null,
                status.ForecastUsd is { } forecast ? currency.Convert(Usd(forecast)) : null),
        };
    }

    private static async Task<IResult> ResetBreakerAsync(string budgetId, [FromQuery(Name = "user_id")] string? userId, ClaimsPrincipal caller, BudgetService service, CancellationToken cancellationToken)
    {
        var status = await service.ResetBreakerAsync(budgetId, userId, Actor(caller), cancellationToken).ConfigureAwait(false);
        if (status is null)
        {
            return NotFound(budgetId);
        }

        return status is { IsValid: true } ? TypedResults.Ok(StatusResponse.From(status.Value!)) : Invalid(status!.Errors);
    }

    private static async Task<IResult> AuthorizeAsync(AuthorizeRequest? body, ClaimsPrincipal caller, BudgetService service, HttpContext http, CancellationToken cancellationToken)
    {
        if (body is null)
        {
            return ApiProblems.Field("body", "is required");
        }

        if (!caller.TryResolveTenant(body.TenantId, out var tenant, out var problem))
        {
            return problem;
        }

        var result = await service.AuthorizeAsync(body with { TenantId = tenant }, cancellationToken).ConfigureAwait(false);
        // Business metrics count decisions (adherence, downgrade savings): best effort and off the answer, so an
        // authorisation stays one storage round trip; the log itself makes a count wait for writes in flight.
        if (result.IsValid && http.RequestServices.GetService<LlmCost.Core.Advice.IBudgetDecisionLog>() is { } decisions)
        {
            _ = decisions.RecordAsync(LlmCost.Core.Advice.BudgetDecisionRecord.Of(tenant, body.TeamId, body.UserId!, body.RequestId, body.Provider!, body.Model!,
                result.Value!, http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow()), CancellationToken.None);
        }

        return result.IsValid ? TypedResults.Ok(AuthorizeResponse.From(result.Value!)) : Invalid(result.Errors);
    }

    private static IResult ListProfiles() => TypedResults.Ok(new ProfileListResponse(BudgetProfiles.All.Select(p => new ProfileView(
        p.Key, p.Value.Select(d => new ProfileBudgetView(d.Scope, d.ScopeId, d.Name, d.AmountUsd, d.Period, d.Mode)).ToList())).ToList()));

    private static async Task<IResult> ApplyProfileAsync(ProfileBody? body, ClaimsPrincipal caller, BudgetService service, CancellationToken cancellationToken)
    {
        if (body is null)
        {
            return ApiProblems.Field("body", "is required");
        }

        var result = await service.ApplyProfileAsync(body.TenantId, body.Profile, Actor(caller), cancellationToken).ConfigureAwait(false);
        return result.IsValid
            ? TypedResults.Ok(new ProfileAppliedResponse(body.TenantId, body.Profile, result.Value!.Select(BudgetResponse.From).ToList()))
            : Invalid(result.Errors);
    }

    private static async Task<IResult> FreezeAsync(FreezeBody? body, ClaimsPrincipal caller, BudgetService service, bool freeze, CancellationToken cancellationToken)
    {
        if (body is null)
        {
            return ApiProblems.Field("body", "is required");
        }

        var result = await service.FreezeAsync(body.TenantId, body.Scope, body.ScopeId, body.Reason, Actor(caller), freeze, cancellationToken).ConfigureAwait(false);
        if (!result.IsValid)
        {
            return Invalid(result.Errors);
        }

        var record = result.Value!;
        return TypedResults.Ok(new FreezeResponse(record.TenantId, BudgetNames.Of(record.Scope), record.ScopeId, freeze, record.FrozenAt, record.FrozenBy, record.Reason));
    }

    private static async Task<IResult> ListFreezesAsync([FromQuery(Name = "tenant_id")] string? tenantId, ClaimsPrincipal caller, BudgetService service, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenantId, out var tenant, out var problem))
        {
            return problem;
        }

        var freezes = await service.ListFreezesAsync(tenant, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(new FreezeListResponse(
            tenant,
            freezes.Where(f => caller.MaySee(BudgetNames.Of(f.Scope), f.ScopeId)).Select(f => new FreezeResponse(f.TenantId, BudgetNames.Of(f.Scope), f.ScopeId, true, f.FrozenAt, f.FrozenBy, f.Reason)).ToList()));
    }

    private static async Task<IResult> PendingAlertsAsync([FromQuery(Name = "tenant_id")] string? tenantId, int? limit, ClaimsPrincipal caller, IPendingAlertSource alerts, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(tenantId, out var tenant, out var problem))
        {
            return problem;
        }

        if (limit is < 1 or > 1000)
        {
            return ApiProblems.Field("limit", "must be between 1 and 1000");
        }

        var pending = await alerts.ListPendingAsync(tenant, limit ?? 200, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(new PendingAlertsResponse(tenant, pending.Where(a => caller.MaySee(a.Scope, a.ScopeId)).Select(ToResponse).ToList()));
    }

    /// <summary>
    /// Releases a reservation whose call will not be made: its worst case stops counting at once. A usage event
    /// naming it later still counts (as a late settlement).
    /// </summary>
    private static async Task<IResult> ReleaseAsync(string reservationId, ReleaseBody? body, ClaimsPrincipal caller, BudgetService service, CancellationToken cancellationToken)
    {
        if (!caller.TryResolveTenant(body?.TenantId, out var tenant, out var problem))
        {
            return problem;
        }

        var result = await service.ReleaseReservationAsync(tenant, reservationId, body?.UserId, cancellationToken).ConfigureAwait(false);
        if (!result.IsValid)
        {
            return Invalid(result.Errors);
        }

        return result.Value!.Outcome switch
        {
            ReleaseOutcome.Released => TypedResults.Ok(new ReleaseResponse(reservationId, "released")),
            ReleaseOutcome.AlreadyClosed => TypedResults.Ok(new ReleaseResponse(reservationId, "already_closed")),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"no open or closed reservation '{reservationId}' for this tenant and user"),
        };
    }

    /// <summary>Runs the expiry timer's work now (operations, tests): closes every reservation past its expiry.</summary>
    private static async Task<IResult> ExpireAsync(BudgetService service, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ExpiredReservationsResponse(await service.ExpireReservationsAsync(cancellationToken).ConfigureAwait(false)));

    public static AlertResponse ToResponse(Alert a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return new AlertResponse(a.AlertId, a.Kind, a.TenantId, a.Scope, a.ScopeId, a.CreatedAt, a.BudgetId,
            a.ThresholdPercent?.ToString(CultureInfo.InvariantCulture), a.Message, a.Details);
    }

    /// <summary>Null when the caller may see this budget (for <paramref name="userId"/> if given); else a problem.</summary>
    private static IResult? Access(ClaimsPrincipal caller, BudgetDefinition budget, string? userId)
    {
        if (caller.IsAdmin())
        {
            return null;
        }

        if (!string.Equals(caller.KeyTenant(), budget.TenantId, StringComparison.Ordinal))
        {
            return CallerAccess.Forbidden("this API key cannot act on another tenant");
        }

        if (budget.Scope == BudgetScope.User)
        {
            // A budget for every user applies to a bound reader's user too: its definition is visible, its state
            // only for that user.
            return budget.AppliesToEveryUser && userId is null ? null : caller.CheckUserAccess(budget.AppliesToEveryUser ? userId! : budget.ScopeId);
        }

        return caller.CheckScopeAccess();
    }

    private static string Actor(ClaimsPrincipal caller) => caller.AuditActor();

    private static IResult NotFound(string budgetId) => ApiProblems.NotFound("budget", budgetId);

    private static IResult Invalid(IReadOnlyDictionary<string, string[]> errors) => ApiProblems.Validation(errors);
}
