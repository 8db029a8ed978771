using System.Text.Json;
using LlmCost.Hosting;
using LlmCost.Core.Recording;
using LlmCost.Storage;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace LlmCost.Functions;

/// <summary>
/// Host plumbing shared by every module: URLs (the Functions host's FUNCTIONS_CUSTOMHANDLER_PORT, else PORT,
/// else 7071, always on 127.0.0.1), snake_case JSON, problem details, OpenAPI, TimeProvider, storage, API-key
/// auth, the custom-handler invocation endpoints and standalone mode.
/// </summary>
public static class HostSetup
{
    public static WebApplicationBuilder ConfigureLlmCostHost(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.RefuseUnresolvedReferences();
        var port = builder.Configuration["FUNCTIONS_CUSTOMHANDLER_PORT"] ?? builder.Configuration["PORT"] ?? "7071";
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.DictionaryKeyPolicy = null;
            // Bodies have passed JsonInputPolicy already; this keeps the binder failing closed on its own too.
            o.SerializerOptions.AllowDuplicateProperties = false;
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<LlmCostExceptionHandler>();
        builder.Services.AddOpenApi(LlmCost.Functions.Apis.ApiDocumentation.Configure);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddLlmCostStorage(builder.Configuration);
        builder.Services.AddLlmCostAuth(builder.Configuration);
        builder.Services.AddLlmCostHealth();
        // No HTTP client created through the factory logs request URIs: webhook URLs are bearer secrets.
        builder.Services.ConfigureHttpClientDefaults(http => http.RemoveAllLoggers());
        // Binding failures (wrong JSON type, bad query value) throw, so the exception handler can name the member.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddCustomHandler(builder.Configuration);
        builder.Services.AddSingleton<IFunctionInvocationBarrier, UsageProjectionBarrier>();
        builder.AddLlmCostTelemetry();
        return builder;
    }

    public static WebApplication UseLlmCostHost(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseMiddleware<InputPolicyMiddleware>();
        app.Use(ReadYourWrites);
        app.MapOpenApi();
        LlmCost.Functions.Apis.ApiDocumentation.MapApiReference(app);
        // The Functions host pings GET / until any response comes back.
        app.MapGet("/", () => TypedResults.Ok(new { service = "llmcost", status = "ok" })).ExcludeFromDescription();
        app.MapApiKeyEndpoints();
        app.MapHealthEndpoint();
        app.MapCustomHandler();
        app.MapLlmCostTelemetry();
        return app;
    }

    /// <summary>
    /// Read-your-writes on this instance: any request except recording itself and budget authorisation first waits (bounded by
    /// LlmCost:Usage:Ingest:ReadBarrierTimeout) until the usage projector has applied every event this instance
    /// acknowledged before the request arrived, so a budget status, an authorisation, a query or a triggered function
    /// right after a POST /api/usage sees it. Free when nothing is outstanding.
    /// </summary>
    private static async Task ReadYourWrites(HttpContext context, RequestDelegate next)
    {
        PathString path = context.Request.Path;
        // An authorisation does not wait: it adds this instance's acknowledged, not yet counted usage to what it reads
        // (UnappliedBudgetSpend), so it sees the usage at once without paying the projector's lag.
        bool exempt = path == "/" || path.StartsWithSegments("/api/health") || path.StartsWithSegments("/metrics")
            || (HttpMethods.IsPost(context.Request.Method) && (path.StartsWithSegments("/api/usage") || path.StartsWithSegments("/api/price") || path.StartsWithSegments("/v1/traces") || path.StartsWithSegments("/api/v1/traces")
                || path.Equals("/api/budgets/authorize", StringComparison.OrdinalIgnoreCase)));
        if (!exempt)
        {
            var tracker = context.RequestServices.GetRequiredService<LlmCost.Storage.Recording.UsageProjectionTracker>();
            var options = context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<LlmCost.Storage.Recording.UsageIngestOptions>>();
            await tracker.WaitForAppliedAsync(options.Value.ReadBarrierTimeout, context.RequestAborted);
        }

        await next(context);
    }
}

/// <summary>
/// Background functions work on recorded usage: before one runs, this instance's acknowledged events reach the
/// projection (bounded by LlmCost:Usage:Ingest:ReadBarrierTimeout), as for a read request.
/// </summary>
internal sealed class UsageProjectionBarrier(IServiceProvider services) : IFunctionInvocationBarrier
{
    public Task WaitAsync(CancellationToken cancellationToken = default)
    {
        var tracker = services.GetService<LlmCost.Storage.Recording.UsageProjectionTracker>();
        var options = services.GetService<Microsoft.Extensions.Options.IOptions<LlmCost.Storage.Recording.UsageIngestOptions>>();
        return tracker is null
            ? Task.CompletedTask
            : tracker.WaitForAppliedAsync(options?.Value.ReadBarrierTimeout ?? TimeSpan.FromSeconds(5), cancellationToken);
    }
}

/// <summary>
/// Maps what escapes an endpoint to problem details. A client that went away is not an error (the framework's
/// exception middleware answers 499 and logs it at Debug before this runs). Malformed requests the binder or Kestrel
/// rejected keep their 4xx and name the member (JSON path) when there is one; storage that cannot answer (unreachable,
/// timing out, throttling, the outage breaker open, contention outlasting every retry) is a 503 with Retry-After,
/// logged as a warning without the exception's text; anything else is a bug and stays a logged 500.
/// </summary>
internal sealed partial class LlmCostExceptionHandler(IProblemDetailsService problems, ILogger<LlmCostExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (httpContext.RequestAborted.IsCancellationRequested)
        {
            // The caller is gone; whatever failed on its behalf failed because it left.
            LogClientGone(logger, exception.GetType().Name);
            httpContext.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
            return true;
        }

        (int status, string title, string? detail, string? field) = exception switch
        {
            BadHttpRequestException { InnerException: JsonException json } bad =>
                (bad.StatusCode, "Invalid request", $"{JsonInputPolicy.FieldFromPath(json.Path)} has the wrong JSON type or shape", JsonInputPolicy.FieldFromPath(json.Path)),
            BadHttpRequestException { StatusCode: 400 } bad when BoundParameter(bad.Message) is { } parameter =>
                (400, "Invalid request", $"{parameter} is not a valid value of its type", parameter),
            BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == 413 ? "Payload too large" : "Bad request", bad.Message, null),
            JsonException json => (400, "Invalid request", $"{JsonInputPolicy.FieldFromPath(json.Path)} has the wrong JSON type or shape", JsonInputPolicy.FieldFromPath(json.Path)),
            LlmCost.Core.Budgets.BudgetUnavailableException unavailable => (503, "Budgets unavailable", unavailable.Message, null),
            _ when StorageOutage.IsOutage(exception) => (503, "Storage unavailable", "storage did not answer in time; retry shortly", null),
            _ => (500, "Internal error", null, null),
        };
        if (status == 500)
        {
            return false;
        }

        if (status == 503)
        {
            LogStorageUnavailable(logger, exception.GetType().Name, httpContext.Request.Method, httpContext.Request.Path);
            int retryAfter = exception is LlmCost.Core.Budgets.BudgetUnavailableException { RetryAfter: var wait }
                ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds))
                : StorageOutage.RetryAfterSeconds;
            httpContext.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        httpContext.Response.StatusCode = status;
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (field is not null)
        {
            problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [detail!] }) { Status = status, Title = title, Detail = detail };
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = problem,
        });
    }

    /// <summary>The query/route parameter named in the binder's message (<c>Failed to bind parameter "int? limit" from "x".</c>).</summary>
    private static string? BoundParameter(string message)
    {
        System.Text.RegularExpressions.Match match = BindFailure().Match(message);
        return match.Success ? match.Groups["name"].Value : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^Failed to bind parameter \"(?:[^\"]* )?(?<name>[A-Za-z_][A-Za-z0-9_]*)\"")]
    private static partial System.Text.RegularExpressions.Regex BindFailure();

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Storage unavailable ({ExceptionType}) during {Method} {Path}: answered 503")]
    private static partial void LogStorageUnavailable(ILogger logger, string exceptionType, string method, PathString path);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "The client disconnected before its request finished ({ExceptionType})")]
    private static partial void LogClientGone(ILogger logger, string exceptionType);
}
