// Long on purpose: the client's public surface, one documented method per endpoint; wire shapes, retries and buffering live
// in Wire/, the pipeline and Buffering/.
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using LlmCost.Client.Buffering;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace LlmCost.Client;

/// <summary>
/// Typed client of the LlmCost service: record usage exactly once (now, in batches, or through a bounded background
/// buffer), price, authorise against budgets, release reservations, query usage and budgets.
/// </summary>
/// <remarks>
/// Every request goes through one Polly pipeline: retries with exponential back-off and jitter for transient
/// failures (connection errors, timeouts, 408/429/5xx, Retry-After honoured), a circuit breaker so a service that is
/// down costs callers nothing once detected, and a timeout per attempt. Retrying is safe because every write carries
/// an idempotency key generated before the first attempt: the event id for usage, the request id for authorisation.
/// Register it with <c>services.AddLlmCostClient(...)</c> or construct it with an <see cref="HttpClient"/>; dispose it
/// to flush the buffer.
/// </remarks>
public sealed partial class LlmCostClient : ILlmCostClient, IAsyncDisposable, IDisposable
{
    /// <summary>Most events the service accepts in one request.</summary>
    public const int MaxEventsPerRequest = 500;

    // The service's default body limit is 1 MiB; stay below it so a full batch is never refused for size.
    internal const int MaxBodyBytes = 960 * 1024;

    private static readonly string UserAgent = "LlmCost.Client/" +
        (typeof(LlmCostClient).Assembly.GetName().Version?.ToString(3) ?? "0");

    private readonly HttpClient _http;
    private readonly LlmCostClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly Uri _baseAddress;
    private readonly UsageBuffer _buffer;

    /// <param name="httpClient">Used as is (its BaseAddress and default headers are not relied on).</param>
    /// <param name="options">Validated here; an invalid set throws <see cref="ArgumentException"/>.</param>
    /// <param name="timeProvider">The clock of the buffer and the retry delays (default: the system clock).</param>
    /// <param name="logger">Never given prompts, keys or event contents.</param>
    public LlmCostClient(HttpClient httpClient, LlmCostClientOptions options, TimeProvider? timeProvider = null, ILogger<LlmCostClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(options);
        List<string> problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException("invalid LlmCost client options: " + string.Join("; ", problems), nameof(options));
        }

        _http = httpClient;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        string root = options.BaseAddress!.AbsoluteUri;
        _baseAddress = new Uri(root.EndsWith('/') ? root : root + "/");
        _pipeline = BuildPipeline(options, _time);
        _buffer = new UsageBuffer(options, _time, _logger, SendBufferedAsync);
    }

    /// <summary>Counters of the background buffer (also published on the <c>LlmCost.Client</c> meter).</summary>
    public LlmCostClientStatistics Statistics => _buffer.Statistics;

    internal LlmCostClientOptions Options => _options;

    internal TimeProvider Time => _time;

    /// <summary>A client with its own <see cref="HttpClient"/> (pooled connections recycled every 2 minutes).</summary>
    public static LlmCostClient Create(LlmCostClientOptions options, TimeProvider? timeProvider = null, ILogger<LlmCostClient>? logger = null) =>
        new(new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) }) { Timeout = Timeout.InfiniteTimeSpan },
            options, timeProvider, logger);

    public async Task<RecordResult> RecordAsync(UsageEvent usageEvent, CancellationToken cancellationToken = default)
    {
        UsageEvent prepared = Prepare(usageEvent, stampTime: false);
        return await SendJsonAsync<RecordResult>(HttpMethod.Post, "api/usage", LlmCostJson.Serialize(prepared), cancellationToken).ConfigureAwait(false);
    }

    public async Task<RecordBatchResult> RecordBatchAsync(IReadOnlyList<UsageEvent> events, RecordBatchOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var prepared = new UsageEvent[events.Count];
        for (int i = 0; i < events.Count; i++)
        {
            prepared[i] = Prepare(events[i], stampTime: false);
        }

        var outcomes = new EventOutcome?[prepared.Length];
        string path = options?.Import == true ? "api/usage?import=true" : "api/usage";
        for (int start = 0; start < prepared.Length; start += MaxEventsPerRequest)
        {
            int[] chunk = Enumerable.Range(start, Math.Min(MaxEventsPerRequest, prepared.Length - start)).ToArray();
            await SendChunkAsync(prepared, chunk, outcomes, path, cancellationToken).ConfigureAwait(false);
        }

        return new RecordBatchResult(outcomes.Select(o => o!).ToList());
    }

    public bool Enqueue(UsageEvent usageEvent) => _buffer.Enqueue(Prepare(usageEvent, stampTime: true), fallback: null);

    /// <summary>Buffers an event with a second form to send if the service refuses the first (the middleware sends
    /// the provider's raw usage and falls back to the abstraction's token counts).</summary>
    internal bool EnqueueWithFallback(UsageEvent usageEvent, UsageEvent? fallback)
    {
        UsageEvent prepared = Prepare(usageEvent, stampTime: true);
        return _buffer.Enqueue(prepared, fallback is null ? null : fallback with
        {
            EventId = prepared.EventId, Timestamp = prepared.Timestamp, TenantId = prepared.TenantId, App = prepared.App,
        });
    }

    public Task FlushAsync(CancellationToken cancellationToken = default) => _buffer.FlushAsync(cancellationToken);

    public Task<PriceQuote> PriceAsync(PriceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return SendJsonAsync<PriceQuote>(HttpMethod.Post, "api/price", LlmCostJson.Serialize(request), cancellationToken);
    }

    public Task<AuthorizeResponse> AuthorizeAsync(AuthorizeRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        // The request id is fixed before the first attempt: a retry after a lost answer gets the same reservation
        // back ("replayed") instead of reserving the worst case twice.
        AuthorizeRequest prepared = request with
        {
            RequestId = request.RequestId ?? LlmCostIds.NewId(),
            TenantId = request.TenantId ?? _options.TenantId,
        };
        return SendJsonAsync<AuthorizeResponse>(HttpMethod.Post, "api/budgets/authorize", LlmCostJson.Serialize(prepared), cancellationToken);
    }

    public async Task<ReleaseOutcome> ReleaseAsync(string reservationId, string userId, string? tenantId = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(reservationId);
        ArgumentException.ThrowIfNullOrEmpty(userId);
        byte[] body = LlmCostJson.Serialize(new ReleaseRequest(tenantId ?? _options.TenantId, userId));
        using HttpResponseMessage response = await SendAsync(
            HttpMethod.Post, $"api/budgets/reservations/{Uri.EscapeDataString(reservationId)}/release", body, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return ReleaseOutcome.Released;
        }

        // A service without the endpoint answers 404/405 from routing: an empty body, or the generic status-code
        // problem (title only). An endpoint that knows no such open reservation says which in its detail.
        string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        ApiProblem? problem = ReadProblem(text);
        if (response.StatusCode is HttpStatusCode.MethodNotAllowed
            || (response.StatusCode == HttpStatusCode.NotFound && problem?.Detail is null && problem?.Errors is null))
        {
            return ReleaseOutcome.NotSupported;
        }

        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict or HttpStatusCode.Gone)
        {
            return ReleaseOutcome.NotOpen;
        }

        throw Failure(response.StatusCode, text, "release");
    }

    public Task<UsageReport> GetUserUsageAsync(string userId, UsageQuery? query = null, CancellationToken cancellationToken = default) =>
        UsageAsync("users", userId, query, cancellationToken);

    public Task<UsageReport> GetTeamUsageAsync(string teamId, UsageQuery? query = null, CancellationToken cancellationToken = default) =>
        UsageAsync("teams", teamId, query, cancellationToken);

    public Task<UsageReport> GetTenantUsageAsync(string tenantId, UsageQuery? query = null, CancellationToken cancellationToken = default) =>
        UsageAsync("tenants", tenantId, query, cancellationToken);

    public async IAsyncEnumerable<RecordedEvent> ListUserEventsAsync(string userId, EventsQuery? query = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        query ??= new EventsQuery();
        string? token = null;
        do
        {
            var parameters = new List<(string, string?)>
            {
                ("tenant_id", query.TenantId ?? _options.TenantId),
                ("from", Instant(query.From)),
                ("to", Instant(query.To)),
                ("page_size", query.PageSize?.ToString(CultureInfo.InvariantCulture)),
                ("continuation_token", token),
            };
            EventsPage page = await SendJsonAsync<EventsPage>(
                HttpMethod.Get, $"api/users/{Uri.EscapeDataString(userId)}/events{QueryString(parameters)}", null, cancellationToken).ConfigureAwait(false);
            foreach (RecordedEvent e in page.Events)
            {
                yield return e;
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
    }

    public Task<BudgetStatus> GetBudgetStatusAsync(string budgetId, string? userId = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(budgetId);
        return SendJsonAsync<BudgetStatus>(
            HttpMethod.Get, $"api/budgets/{Uri.EscapeDataString(budgetId)}/status{QueryString([("user_id", userId)])}", null, cancellationToken);
    }

    public ValueTask DisposeAsync() => _buffer.DisposeAsync();

    public void Dispose() => _buffer.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Fills what the client knows (id, tenant, app; the time for buffered events) once, before any attempt.</summary>
    private UsageEvent Prepare(UsageEvent usageEvent, bool stampTime)
    {
        ArgumentNullException.ThrowIfNull(usageEvent);
        return usageEvent with
        {
            EventId = usageEvent.EventId ?? LlmCostIds.NewId(),
            TenantId = usageEvent.TenantId ?? _options.TenantId,
            App = usageEvent.App ?? _options.App,
            Timestamp = usageEvent.Timestamp ?? (stampTime ? _time.GetUtcNow() : null),
        };
    }

    private Task<RecordBatchResult> SendBufferedAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken) =>
        RecordBatchAsync(events, null, cancellationToken);

    private async Task SendChunkAsync(UsageEvent[] prepared, int[] chunk, EventOutcome?[] outcomes, string path, CancellationToken cancellationToken)
    {
        List<int> pending = [.. chunk];
        while (pending.Count > 0)
        {
            byte[] body = LlmCostJson.Serialize(new RecordBatchRequest(pending.Select(i => prepared[i]).ToList()));
            if (body.Length > MaxBodyBytes && pending.Count > 1)
            {
                await SplitAsync(prepared, pending, outcomes, path, cancellationToken).ConfigureAwait(false);
                return;
            }

            using HttpResponseMessage response = await SendAsync(HttpMethod.Post, path, body, cancellationToken).ConfigureAwait(false);
            string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                RecordBatchResponse answer = JsonSerializer.Deserialize<RecordBatchResponse>(text, LlmCostJson.Options)
                    ?? throw new LlmCostUnavailableException("the service answered an empty body");
                if (answer.Results.Count != pending.Count)
                {
                    throw new LlmCostUnavailableException($"the service answered {answer.Results.Count} results for {pending.Count} events");
                }

                for (int k = 0; k < pending.Count; k++)
                {
                    RecordResult result = answer.Results[k];
                    outcomes[pending[k]] = new EventOutcome(prepared[pending[k]], result.Duplicate ? EventStatus.Duplicate : EventStatus.Recorded, result, []);
                }

                return;
            }

            if (response.StatusCode == HttpStatusCode.RequestEntityTooLarge)
            {
                if (pending.Count > 1)
                {
                    await SplitAsync(prepared, pending, outcomes, path, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    outcomes[pending[0]] = new EventOutcome(prepared[pending[0]], EventStatus.Rejected, null, ["body: the event is larger than the service accepts"]);
                }

                return;
            }

            ApiProblem? problem = ReadProblem(text);
            Dictionary<int, List<string>> byIndex = response.StatusCode == HttpStatusCode.BadRequest ? ErrorsByEvent(problem) : [];
            if (byIndex.Count == 0 || byIndex.Keys.Any(k => k >= pending.Count))
            {
                throw Failure(response.StatusCode, text, "record");
            }

            // The service refuses the whole request for one bad event (nothing is written); take the named ones
            // out and send the rest again.
            var next = new List<int>(pending.Count - byIndex.Count);
            for (int k = 0; k < pending.Count; k++)
            {
                if (byIndex.TryGetValue(k, out List<string>? errors))
                {
                    outcomes[pending[k]] = new EventOutcome(prepared[pending[k]], EventStatus.Rejected, null, errors);
                }
                else
                {
                    next.Add(pending[k]);
                }
            }

            pending = next;
        }
    }

    private async Task SplitAsync(UsageEvent[] prepared, List<int> pending, EventOutcome?[] outcomes, string path, CancellationToken cancellationToken)
    {
        int half = pending.Count / 2;
        await SendChunkAsync(prepared, [.. pending.Take(half)], outcomes, path, cancellationToken).ConfigureAwait(false);
        await SendChunkAsync(prepared, [.. pending.Skip(half)], outcomes, path, cancellationToken).ConfigureAwait(false);
    }

    [GeneratedRegex(@"^events\[(\d+)\]")]
    private static partial Regex EventIndex();

    private static Dictionary<int, List<string>> ErrorsByEvent(ApiProblem? problem)
    {
        var byIndex = new Dictionary<int, List<string>>();
        foreach ((string field, string[] messages) in problem?.Errors ?? new Dictionary<string, string[]>())
        {
            Match match = EventIndex().Match(field);
            if (!match.Success || !int.TryParse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                return [];
            }

            if (!byIndex.TryGetValue(index, out List<string>? list))
            {
                byIndex[index] = list = [];
            }

            list.AddRange(messages.Length == 0 ? [field] : messages);
        }

        return byIndex;
    }

    private async Task<UsageReport> UsageAsync(string kind, string id, UsageQuery? query, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        query ??= new UsageQuery();
        string? tenant = kind == "tenants" ? null : query.TenantId ?? _options.TenantId;
        string path = $"api/{kind}/{Uri.EscapeDataString(id)}/usage" + QueryString(
        [
            ("tenant_id", tenant),
            ("from", Instant(query.From)),
            ("to", Instant(query.To)),
            ("granularity", query.Granularity),
            ("group_by", query.GroupBy),
        ]);
        return await SendJsonAsync<UsageReport>(HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false);
    }

    private static string? Instant(DateTimeOffset? value) =>
        value?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    private static string QueryString(IEnumerable<(string Name, string? Value)> parameters)
    {
        var builder = new StringBuilder();
        foreach ((string name, string? value) in parameters)
        {
            if (value is null)
            {
                continue;
            }

            builder.Append(builder.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }

        return builder.ToString();
    }

    private async Task<T> SendJsonAsync<T>(HttpMethod method, string path, byte[]? body, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await SendAsync(method, path, body, cancellationToken).ConfigureAwait(false);
        string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw Failure(response.StatusCode, text, path);
        }

        try
        {
            return JsonSerializer.Deserialize<T>(text, LlmCostJson.Options)
                ?? throw new LlmCostUnavailableException($"the service answered an empty body to {method} {path}");
        }
        catch (JsonException ex)
        {
            throw new LlmCostUnavailableException($"the service answered unreadable JSON to {method} {path}", ex);
        }
    }

    /// <summary>Sends through the resilience pipeline; a transient failure left after the retries is an outage.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, byte[]? body, CancellationToken cancellationToken)
    {
        var uri = new Uri(_baseAddress, path);
        HttpResponseMessage response;
        try
        {
            response = await _pipeline.ExecuteAsync(async token =>
            {
                using var request = new HttpRequestMessage(method, uri);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.ApiKey);
                request.Headers.UserAgent.ParseAdd(UserAgent);
                if (body is not null)
                {
                    request.Content = new ByteArrayContent(body);
                    request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                }

                return await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, token).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutRejectedException or BrokenCircuitException or OperationCanceledException)
        {
            LogUnavailable(_logger, method.Method, path, ex.GetType().Name);
            throw new LlmCostUnavailableException($"the LlmCost service is unavailable ({method} {path}): {ex.Message}", ex);
        }

        if (IsTransient(response.StatusCode))
        {
            int status = (int)response.StatusCode;
            response.Dispose();
            LogUnavailable(_logger, method.Method, path, status.ToString(CultureInfo.InvariantCulture));
            throw new LlmCostUnavailableException($"the LlmCost service answered {status} to {method} {path} after {_options.MaxRetryAttempts} retries");
        }

        return response;
    }

    private static LlmCostApiException Failure(HttpStatusCode status, string text, string what)
    {
        ApiProblem? problem = ReadProblem(text);
        string detail = problem?.Detail ?? problem?.Title ?? (text.Length > 300 ? text[..300] : text);
        return new LlmCostApiException((int)status, problem, $"the LlmCost service answered {(int)status} ({what}): {detail}");
    }

    private static ApiProblem? ReadProblem(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<ApiProblem>(text, LlmCostJson.Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    private static ResiliencePipeline<HttpResponseMessage> BuildPipeline(LlmCostClientOptions options, TimeProvider time)
    {
        PredicateBuilder<HttpResponseMessage> transient = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .HandleResult(r => IsTransient(r.StatusCode));
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };
        if (options.MaxRetryAttempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                MaxRetryAttempts = options.MaxRetryAttempts,
                Delay = options.RetryBaseDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                MaxDelay = options.MaxOutageBackoff,
                DelayGenerator = args => new ValueTask<TimeSpan?>(RetryAfter(args.Outcome.Result, options.MaxOutageBackoff, time)),
                OnRetry = args =>
                {
                    // The failed answer is not returned to anyone: release its connection now.
                    args.Outcome.Result?.Dispose();
                    return default;
                },
            });
        }

        return builder
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                FailureRatio = options.CircuitBreakerFailureRatio,
                SamplingDuration = options.CircuitBreakerSamplingDuration,
                MinimumThroughput = options.CircuitBreakerMinimumThroughput,
                BreakDuration = options.CircuitBreakerBreakDuration,
            })
            .AddTimeout(options.AttemptTimeout)
            .Build();
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage? response, TimeSpan cap, TimeProvider time)
    {
        RetryConditionHeaderValue? header = response?.Headers.RetryAfter;
        TimeSpan? wait = header?.Delta ?? (header?.Date is { } date ? date - time.GetUtcNow() : null);
        return wait is { } w && w > TimeSpan.Zero ? (w < cap ? w : cap) : null;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "LlmCost service unavailable for {Method} {Path}: {Failure}")]
    private static partial void LogUnavailable(ILogger logger, string method, string path, string failure);
}
