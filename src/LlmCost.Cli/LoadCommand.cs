// Long on purpose: `llmcost load` is one measured procedure (warm-up, phases, the raw Table Storage baseline, the report); its
// steps share the run's state and read top to bottom.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;

namespace LlmCost.Cli;

/// <summary>
/// <c>llmcost load</c>: a bounded HTTP load generator that POSTs usage events to a RUNNING service on this
/// machine and reports throughput, status codes and latency percentiles; optionally the same workload as raw
/// Table Storage writes against the same storage, so one command prints both rates and their ratio.
/// </summary>
/// <remarks>
/// Safety: the target (and the storage of a baseline) must be a loopback address, and the run is bounded by
/// --count and --duration, so it can never be pointed at someone else's service or left running. Events are built
/// from the Azure LLM inference trace exactly as <c>llmcost replay</c> assigns users and models (seeded Zipf
/// users), with the trace's 2023 timestamps shifted so the trace ends two minutes ago (relative spacing kept;
/// each further pass over the trace one day earlier), plus <c>event_id</c> (deterministic per seed and row, so a
/// rerun with the same seed exercises duplicate detection), <c>user_id</c> and <c>tenant_id</c>. Only 2xx answers
/// count as throughput. The API key is read from the environment variable named by --api-key-env (never from the
/// command line, so it does not land in shell history or process lists).
/// </remarks>
internal static class LoadCommand
{
    public const string Help = """
        llmcost load --url http://127.0.0.1:7071/api/usage [--count 1000] [--duration 60] [--concurrency 8]
                     [--batch 1] [--rate EVENTS_PER_S | --rate-of-baseline 0.5]
                     [--baseline raw-insert|raw-batch[,…] --storage CONNECTION_STRING [--baseline-concurrency N]]
                     [--warmup EVENTS]
                     [--tenant load-test] [--api-key-env LLMCOST_API_KEY] [--users 1000] [--zipf 1.1] [--seed 42]
                     [--models LIST] [--trace code|conv|all|FILE.csv] [--drain-timeout 300]
          POSTs usage events built from the Azure LLM inference trace (users/models as in `replay`, timestamps moved
          into the last hour) to a running service on loopback: --count events, --batch per request, --concurrency
          requests at a time, at most --duration seconds, paced at --rate events/s when given. Then waits until the
          service's projector has applied everything (GET /api/health) and reports how long that took.
          --baseline runs the same events as raw Table Storage writes first, with the same concurrency unless
          --baseline-concurrency says otherwise (raw single inserts peak at more clients than batches need):
          raw-insert = one entity per request, raw-batch = 100-entity transactions; --rate-of-baseline F paces the
          service at F times the first baseline's rate. --warmup N first runs N events of another tenant through
          every phase, unmeasured, so just-in-time compilation and connection set-up are not in the figures. Prints one JSON line: events_per_second (2xx only), status counts,
          latency_ms p50/p95/p99/max, projection_drain_seconds, sustained_events_per_second, baseline rates, ratio.
        """;

    private static readonly JsonWriterOptions Compact = new() { Indented = false };

    public static async Task<int> RunAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        string urlText = args.Option("url") ?? throw new CliUsageException("--url is required (e.g. http://127.0.0.1:7071/api/usage)");
        int count = args.IntOption("count", 1000, 1, 10_000_000);
        int duration = args.IntOption("duration", 60, 1, 3600);
        int concurrency = args.IntOption("concurrency", 8, 1, 1024);
        int baselineConcurrency = args.IntOption("baseline-concurrency", concurrency, 1, 1024);
        int batch = args.IntOption("batch", 1, 1, 500);
        double rate = args.DoubleOption("rate", 0, 0, 1_000_000);
        double rateOfBaseline = args.DoubleOption("rate-of-baseline", 0, 0, 100);
        string? baselineText = args.Option("baseline");
        string? storage = args.Option("storage");
        int drainTimeout = args.IntOption("drain-timeout", 300, 0, 3600);
        int warmup = args.IntOption("warmup", 0, 0, 1_000_000);
        string tenant = args.Option("tenant") ?? "load-test";
        string? keyVariable = args.Option("api-key-env");
        int users = args.IntOption("users", 1000, 1, 10_000_000);
        double exponent = args.DoubleOption("zipf", 1.1, 0, 10);
        ulong seed = ulong.TryParse(args.Option("seed") ?? "42", NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong s)
            ? s
            : throw new CliUsageException("--seed must be a non-negative integer");
        List<(string? Provider, string Model)> models = ReplayCommand.ParseModels(args.Option("models") ?? ReplayCommand.DefaultModels);
        string trace = args.Option("trace") ?? "all";
        args.EnsureAllUsed();

        if (!Uri.TryCreate(urlText, UriKind.Absolute, out Uri? url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliUsageException($"--url must be an absolute http(s) URL, got '{urlText}'");
        }

        if (!await IsLoopbackAsync(url, cancellationToken).ConfigureAwait(false))
        {
            throw new CliUsageException($"--url must point at this machine (loopback), got host '{url.Host}'");
        }

        List<string> baselines = baselineText is null ? [] : [.. baselineText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        if (baselines.Any(b => b is not ("raw-insert" or "raw-batch")))
        {
            throw new CliUsageException($"--baseline must be raw-insert, raw-batch or both (comma-separated), got '{baselineText}'");
        }

        if (baselines.Count > 0 && storage is null)
        {
            throw new CliUsageException("--baseline needs --storage CONNECTION_STRING (the storage the service writes to)");
        }

        if (rate > 0 && rateOfBaseline > 0)
        {
            throw new CliUsageException("give --rate or --rate-of-baseline, not both");
        }

        if (rateOfBaseline > 0 && baselines.Count == 0)
        {
            throw new CliUsageException("--rate-of-baseline needs --baseline");
        }

        TableServiceClient? tables = null;
        if (storage is not null)
        {
            try
            {
                tables = new TableServiceClient(storage);
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
            {
                throw new CliUsageException($"--storage is not a storage connection string: {ex.Message}");
            }

            if (!await IsLoopbackAsync(tables.Uri, cancellationToken).ConfigureAwait(false))
            {
                throw new CliUsageException($"--storage must point at this machine (loopback), got host '{tables.Uri.Host}'");
            }
        }

        string? apiKey = null;
        if (keyVariable is not null)
        {
            apiKey = Environment.GetEnvironmentVariable(keyVariable);
            if (string.IsNullOrEmpty(apiKey))
            {
                throw new CliUsageException($"environment variable {keyVariable} (from --api-key-env) is not set");
            }
        }

        List<string> files = ReplayCommand.TraceFiles(trace, services.TraceDirectory);
        DateTimeOffset now = services.Time.GetUtcNow();
        var workload = new Workload(files, tenant, users, exponent, seed, models, now);

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseProxy = false, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        async Task<PhaseResult> ServicePhaseAsync(Workload events, int n, double pace, Action? onSent = null) =>
            await RunPhaseAsync(concurrency, duration, pace, batch, n, cancellationToken, async (rows, ct) =>
            {
                using var content = new ByteArrayContent(Body(rows, batch > 1));
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using HttpResponseMessage response = await client.PostAsync(url, content, ct).ConfigureAwait(false);
                return ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            }, events.Events().GetEnumerator(), onSent).ConfigureAwait(false);

        if (warmup > 0)
        {
            // The same code paths, another tenant and other ids, nothing measured: the runtime compiles its hot
            // methods and the connection pools fill before the clock starts, in every phase alike.
            var warm = new Workload(files, tenant + "-warmup", users, exponent, seed, models, now, idPrefix: "warmup");
            foreach (string name in baselines)
            {
                await RawBaselineAsync(name, tables!, warm, warmup, baselineConcurrency, duration, cancellationToken).ConfigureAwait(false);
            }

            await ServicePhaseAsync(warm, warmup, 0).ConfigureAwait(false);
            await WaitForProjectionAsync(client, url, drainTimeout, cancellationToken).ConfigureAwait(false);
        }

        var baselineResults = new List<(string Name, PhaseResult Result)>();
        foreach (string name in baselines)
        {
            baselineResults.Add((name, await RawBaselineAsync(name, tables!, workload, count, baselineConcurrency, duration, cancellationToken).ConfigureAwait(false)));
        }

        if (rateOfBaseline > 0)
        {
            rate = baselineResults[0].Result.EventsPerSecond * rateOfBaseline;
        }

        Dictionary<string, double>? metricsBefore = await ScrapeAsync(client, url, cancellationToken).ConfigureAwait(false);
        PhaseResult service = await ServicePhaseAsync(workload, count, rate).ConfigureAwait(false);

        double? drain = await WaitForProjectionAsync(client, url, drainTimeout, cancellationToken).ConfigureAwait(false);
        Dictionary<string, double>? metricsAfter = metricsBefore is null ? null : await ScrapeAsync(client, url, cancellationToken).ConfigureAwait(false);

        await using var writer = new JsonLineWriter(io.Output);
        Utf8JsonWriter json = writer.Json;
        json.WriteStartObject();
        json.WriteString("url", url.ToString());
        json.WriteNumber("count", count);
        json.WriteNumber("batch", batch);
        json.WriteNumber("concurrency", concurrency);
        json.WriteNumber("warmup", warmup);
        if (rate > 0)
        {
            json.WriteNumber("target_events_per_second", Math.Round(rate, 1));
        }

        WritePhase(json, service);
        if (drain is { } d)
        {
            json.WriteNumber("projection_drain_seconds", Math.Round(d, 3));
            json.WriteNumber("sustained_events_per_second", service.Seconds + d > 0 ? Math.Round(service.Events / (service.Seconds + d), 1) : 0);
        }
        else
        {
            json.WriteNull("projection_drain_seconds");
        }

        if (metricsBefore is not null && metricsAfter is not null)
        {
            // The service's own counters (GET /metrics), so the figures include the projector's work, not just the answer.
            double Delta(string name) => metricsAfter.GetValueOrDefault(name) - metricsBefore.GetValueOrDefault(name);
            double recorded = Delta("llmcost_ingest_events_total|recorded");
            if (recorded > 0)
            {
                json.WriteStartObject("storage_per_event");
                json.WriteNumber("requests", Math.Round(Delta("llmcost_ingest_storage_transactions_total") / recorded, 3));
                json.WriteNumber("entities", Math.Round(Delta("llmcost_ingest_storage_entities_total") / recorded, 3));
                json.WriteNumber("hot_path_requests", Math.Round(Delta("llmcost_ingest_storage_transactions_total|log") / recorded, 3));
                json.WriteNumber("hot_path_entities", Math.Round(Delta("llmcost_ingest_storage_entities_total|log") / recorded, 3));
                json.WriteEndObject();
            }
        }

        if (baselineResults.Count > 0)
        {
            json.WriteStartObject("baseline");
            foreach ((string name, PhaseResult result) in baselineResults)
            {
                json.WriteStartObject(name);
                json.WriteNumber("concurrency", baselineConcurrency);
                WritePhase(json, result);
                json.WriteEndObject();
            }

            json.WriteEndObject();
            double first = baselineResults[0].Result.EventsPerSecond;
            json.WriteString("ratio_to", baselineResults[0].Name);
            json.WriteNumber("ratio", first > 0 ? Math.Round(service.EventsPerSecond / first, 3) : 0);
            if (drain is { } dd && first > 0)
            {
                json.WriteNumber("sustained_ratio", Math.Round(service.Events / (service.Seconds + dd) / first, 3));
            }
        }

        json.WriteString("data", ReplayCommand.Attribution);
        json.WriteEndObject();
        await writer.EndLineAsync(cancellationToken).ConfigureAwait(false);
        return service.Statuses.Keys.All(k => k.StartsWith('2')) ? 0 : 1;
    }

    private static void WritePhase(Utf8JsonWriter json, PhaseResult result)
    {
        json.WriteNumber("sent", result.Sent);
        json.WriteNumber("events", result.Events);
        json.WriteNumber("seconds", Math.Round(result.Seconds, 3));
        json.WriteNumber("events_per_second", Math.Round(result.EventsPerSecond, 1));
        json.WriteStartObject("status");
        foreach ((string status, long n) in result.Statuses)
        {
            json.WriteNumber(status, n);
        }

        json.WriteEndObject();
        json.WriteStartObject("latency_ms");
        json.WriteNumber("p50", Percentile(result.Latencies, 0.50));
        json.WriteNumber("p95", Percentile(result.Latencies, 0.95));
        json.WriteNumber("p99", Percentile(result.Latencies, 0.99));
        json.WriteNumber("max", result.Latencies.Count > 0 ? Math.Round(result.Latencies[^1], 3) : 0);
        json.WriteEndObject();
    }

    /// <summary>
    /// Runs requests of <paramref name="batch"/> events from <paramref name="concurrency"/> workers until
    /// <paramref name="count"/> events were sent or the duration is up; paced to <paramref name="rate"/> events/s
    /// when positive (each request starts no earlier than its slot, so a slow answer is not hidden by waiting).
    /// Only events of 2xx answers count, and the time is taken at the last such answer.
    /// </summary>
    private static async Task<PhaseResult> RunPhaseAsync(
        int concurrency, int duration, double rate, int batch, int count, CancellationToken cancellationToken,
        Func<List<UsageRow>, CancellationToken, Task<string>> send, IEnumerator<UsageRow> rows, Action? onSent = null)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(duration));
        var gate = new object();
        var statuses = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var latencies = new List<double>();
        long taken = 0;
        long okEvents = 0;
        long requests = 0;
        double lastOk = 0;
        var clock = Stopwatch.StartNew();

        async Task WorkerAsync()
        {
            while (!deadline.IsCancellationRequested)
            {
                var chunk = new List<UsageRow>(batch);
                long slot;
                lock (gate)
                {
                    while (chunk.Count < batch && taken < count && rows.MoveNext())
                    {
                        chunk.Add(rows.Current);
                        taken++;
                    }

                    if (chunk.Count == 0)
                    {
                        return;
                    }

                    slot = requests++;
                }

                if (rate > 0)
                {
                    TimeSpan due = TimeSpan.FromSeconds(slot * (double)batch / rate) - clock.Elapsed;
                    if (due > TimeSpan.Zero)
                    {
                        try
                        {
                            await Task.Delay(due, deadline.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            return;
                        }
                    }
                }

                onSent?.Invoke();
                long started = Stopwatch.GetTimestamp();
                string status;
                try
                {
                    status = await send(chunk, deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                    status = "cancelled_at_deadline";
                }
                catch (HttpRequestException ex)
                {
                    status = $"error:{ex.HttpRequestError}";
                }
                catch (Azure.RequestFailedException ex)
                {
                    status = ex.Status == 0 ? "error:storage" : ex.Status.ToString(CultureInfo.InvariantCulture);
                }

                double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                lock (gate)
                {
                    statuses[status] = statuses.GetValueOrDefault(status) + 1;
                    latencies.Add(ms);
                    if (status.StartsWith('2'))
                    {
                        okEvents += chunk.Count;
                        lastOk = clock.Elapsed.TotalSeconds;
                    }
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkerAsync, CancellationToken.None))).ConfigureAwait(false);
        latencies.Sort();
        return new PhaseResult(taken, okEvents, lastOk, statuses, latencies);
    }

    /// <summary>The same events as raw Table Storage writes: one entity per request, or 100-entity transactions.</summary>
    private static async Task<PhaseResult> RawBaselineAsync(
        string kind, TableServiceClient tables, Workload workload, int count, int concurrency, int duration, CancellationToken cancellationToken)
    {
        TableClient table = tables.GetTableClient("loadbaseline" + Guid.NewGuid().ToString("N")[..12]);
        await table.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            IEnumerator<UsageRow> rows = workload.Events().GetEnumerator();
            long transaction = 0;
            return kind == "raw-insert"
                ? await RunPhaseAsync(concurrency, duration, 0, 1, count, cancellationToken, async (chunk, ct) =>
                {
                    UsageRow row = chunk[0];
                    Azure.Response response = await table.AddEntityAsync(Entity(row, row.PartitionKey), ct).ConfigureAwait(false);
                    return response.Status.ToString(CultureInfo.InvariantCulture);
                }, rows).ConfigureAwait(false)
                : await RunPhaseAsync(concurrency, duration, 0, 100, count, cancellationToken, async (chunk, ct) =>
                {
                    // One partition per transaction (Table Storage's rule); the events' own users cannot share one.
                    string partition = $"{chunk[0].Tenant}|batch|{Interlocked.Increment(ref transaction)}";
                    var actions = chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Add, Entity(r, partition))).ToList();
                    Azure.Response<IReadOnlyList<Azure.Response>> response = await table.SubmitTransactionAsync(actions, ct).ConfigureAwait(false);
                    return response.GetRawResponse().Status.ToString(CultureInfo.InvariantCulture);
                }, rows).ConfigureAwait(false);
        }
        finally
        {
            await table.DeleteAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>An entity shaped like the service's event row (same properties and sizes).</summary>
    private static TableEntity Entity(UsageRow row, string partitionKey) => new(partitionKey, row.EventId)
    {
        ["Kind"] = "event",
        ["TenantId"] = row.Tenant,
        ["UserId"] = row.User,
        ["Provider"] = row.Provider ?? "unknown",
        ["Model"] = row.Model,
        ["OccurredAt"] = row.Timestamp,
        ["Status"] = "success",
        ["InputTokens"] = row.Input,
        ["CacheReadTokens"] = 0L,
        ["CacheWriteTokens"] = 0L,
        ["OutputTokens"] = row.Output,
        ["ReasoningTokens"] = 0L,
        ["Requests"] = 1L,
        ["CostUsd"] = "0.0012345",
        ["Priced"] = true,
        ["PricedProvider"] = row.Provider ?? "unknown",
        ["PricedModel"] = row.Model,
        ["PriceSource"] = "genai-prices",
        ["EventIdGenerated"] = false,
        ["RecordedAt"] = DateTimeOffset.UtcNow,
    };

    /// <summary>
    /// The ingest counters from the service's Prometheus endpoint (<c>GET /metrics</c>, admin key), summed per metric
    /// and per metric|stage / metric|outcome; null when the service does not serve them.
    /// </summary>
    private static async Task<Dictionary<string, double>?> ScrapeAsync(HttpClient client, Uri url, CancellationToken cancellationToken)
    {
        try
        {
            using HttpResponseMessage response = await client.GetAsync(new Uri(url, "/metrics"), cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            var sums = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (string line in (await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)).Split('\n'))
            {
                if (!line.StartsWith("llmcost_ingest_", StringComparison.Ordinal))
                {
                    continue;
                }

                // name{labels} value [timestamp]
                int brace = line.IndexOf('{', StringComparison.Ordinal);
                int close = brace > 0 ? line.IndexOf('}', brace) : -1;
                int valueStart = close > 0 ? close + 2 : line.IndexOf(' ') + 1;
                string[] rest = line[Math.Min(valueStart, line.Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (valueStart <= 0 || rest.Length == 0 || !double.TryParse(rest[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                {
                    continue;
                }

                string name = brace > 0 ? line[..brace] : line[..(valueStart - 1)];
                sums[name] = sums.GetValueOrDefault(name) + value;
                foreach (string label in new[] { "stage", "outcome" })
                {
                    int at = brace > 0 ? line.IndexOf(label + "=\"", brace, StringComparison.Ordinal) : -1;
                    if (at > 0)
                    {
                        int start = at + label.Length + 2;
                        int end = line.IndexOf('"', start);
                        string key = $"{name}|{line[start..end]}";
                        sums[key] = sums.GetValueOrDefault(key) + value;
                    }
                }
            }

            return sums;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Polls the service's health until its projector has nothing pending; null when the service does not report it.</summary>
    private static async Task<double?> WaitForProjectionAsync(HttpClient client, Uri url, int timeoutSeconds, CancellationToken cancellationToken)
    {
        var health = new Uri(url, "/api/health");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using HttpResponseMessage response = await client.GetAsync(health, cancellationToken).ConfigureAwait(false);
                using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
                if (body.RootElement.ValueKind != JsonValueKind.Object
                    || !body.RootElement.TryGetProperty("projection", out JsonElement projection)
                    || !projection.TryGetProperty("pending", out JsonElement pending) || !pending.TryGetInt64(out long left))
                {
                    return null; // not a service that reports its projection
                }

                if (left == 0)
                {
                    return clock.Elapsed.TotalSeconds;
                }
            }
            catch (JsonException)
            {
                return null;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // busy or restarting: keep polling until the timeout
            }

            if (clock.Elapsed.TotalSeconds >= timeoutSeconds)
            {
                return null;
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    private static byte[] Body(List<UsageRow> rows, bool batch)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Compact))
        {
            if (batch)
            {
                json.WriteStartObject();
                json.WriteStartArray("events");
            }

            foreach (UsageRow row in rows)
            {
                json.WriteStartObject();
                json.WriteString("event_id", row.EventId);
                json.WriteString("tenant_id", row.Tenant);
                json.WriteString("user_id", row.User);
                if (row.Provider is not null)
                {
                    json.WriteString("provider", row.Provider);
                }

                json.WriteString("model", row.Model);
                json.WriteString("timestamp", row.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
                json.WriteStartObject("usage");
                json.WriteNumber("input_tokens", row.Input);
                json.WriteNumber("output_tokens", row.Output);
                json.WriteEndObject();
                json.WriteEndObject();
            }

            if (batch)
            {
                json.WriteEndArray();
                json.WriteEndObject();
            }
        }

        return buffer.ToArray();
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : Math.Round(sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)], 3);

    internal static async Task<bool> IsLoopbackAsync(Uri url, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(url.IdnHost, out IPAddress? literal))
        {
            return IPAddress.IsLoopback(literal);
        }

        if (string.Equals(url.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        try
        {
            IPAddress[] addresses = await Dns.GetHostAddressesAsync(url.IdnHost, cancellationToken).ConfigureAwait(false);
            return addresses.Length > 0 && addresses.All(IPAddress.IsLoopback);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private sealed record PhaseResult(long Sent, long Events, double Seconds, SortedDictionary<string, long> Statuses, List<double> Latencies)
    {
        public double EventsPerSecond => Seconds > 0 ? Events / Seconds : 0;
    }

    internal sealed record UsageRow(string EventId, string Tenant, string User, string? Provider, string Model, DateTimeOffset Timestamp, long Input, long Output)
    {
        public string PartitionKey => $"{Tenant}|{User}|{Timestamp.UtcDateTime:yyyyMMdd}";
    }

    /// <summary>
    /// The trace's rows as usage events, users and models assigned as in <c>replay</c>. The 2023 timestamps are
    /// moved so the trace's last request is two minutes before <c>now</c> (inside the service's accepted window,
    /// relative spacing kept); each further pass over the trace goes one more day back, so events stay distinct.
    /// </summary>
    internal sealed class Workload(List<string> files, string tenant, int users, double exponent, ulong seed,
        List<(string? Provider, string Model)> models, DateTimeOffset now, string idPrefix = "load")
    {
        private TimeSpan? _shift;

        public IEnumerable<UsageRow> Events()
        {
            _shift ??= Shift();
            var zipf = new ZipfUsers(users, exponent, seed);
            long row = 0;
            for (int pass = 0; ; pass++)
            {
                bool any = false;
                foreach (string file in files)
                {
                    foreach (string line in File.ReadLines(file).Skip(1))
                    {
                        if (!ReplayCommand.TryParseRow(line, out DateTimeOffset timestamp, out long input, out long output))
                        {
                            continue;
                        }

                        any = true;
                        row++;
                        int user = zipf.Next();
                        (string? provider, string model) = models[(user - 1) % models.Count];
                        yield return new UsageRow($"{idPrefix}-{seed}-{row}", tenant, $"user-{user}", provider, model,
                            timestamp + _shift.Value - TimeSpan.FromDays(pass), input, output);
                    }
                }

                if (!any)
                {
                    yield break;
                }
            }
        }

        private TimeSpan Shift()
        {
            DateTimeOffset? last = null;
            foreach (string file in files)
            {
                foreach (string line in File.ReadLines(file).Skip(1))
                {
                    if (ReplayCommand.TryParseRow(line, out DateTimeOffset timestamp, out _, out _) && (last is null || timestamp > last))
                    {
                        last = timestamp;
                    }
                }
            }

            return last is { } l ? now.AddMinutes(-2) - l : TimeSpan.Zero;
        }
    }
}
