using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace LlmCost.Cli;

/// <summary>
/// <c>llmcost load</c>: a bounded HTTP load generator that POSTs usage events to a RUNNING service on this
/// machine and reports throughput, status codes and latency percentiles.
/// </summary>
/// <remarks>
/// Safety: the target must be a loopback address (127.0.0.0/8, ::1 or a name resolving only to loopback), and the
/// run is bounded by --count and --duration, so it can never be pointed at someone else's service or left running.
/// Events are built from the Azure LLM inference trace exactly as <c>llmcost replay</c> assigns users and models
/// (seeded Zipf users), in the call shape <c>llmcost price</c> reads, plus <c>event_id</c> (deterministic per
/// seed and row, so a rerun with the same seed exercises duplicate detection), <c>user_id</c> and
/// <c>tenant_id</c>. The API key, if any, is read from the environment variable named by --api-key-env (never
/// from the command line, so it does not land in shell history or process lists).
/// </remarks>
internal static class LoadCommand
{
    public const string Help = """
        llmcost load --url http://127.0.0.1:7071/api/usage [--count 1000] [--duration 30] [--concurrency 8]
                     [--tenant load-test] [--api-key-env LLMCOST_API_KEY] [--users 1000] [--zipf 1.1] [--seed 42]
                     [--models LIST] [--trace code|conv|all|FILE.csv]
          POSTs usage events built from the Azure LLM inference trace (users/models as in `replay`) to a running
          service on loopback, at most --count events and --duration seconds, --concurrency at a time. Prints
          one JSON line: sent, status counts, events/s, latency p50/p95/p99/max in ms.
        """;

    public static async Task<int> RunAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        string urlText = args.Option("url") ?? throw new CliUsageException("--url is required (e.g. http://127.0.0.1:7071/api/usage)");
        int count = args.IntOption("count", 1000, 1, 10_000_000);
        int duration = args.IntOption("duration", 30, 1, 3600);
        int concurrency = args.IntOption("concurrency", 8, 1, 256);
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
        IEnumerator<string> bodies = Bodies(files, tenant, users, exponent, seed, models).GetEnumerator();
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseProxy = false };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(duration));
        var gate = new object();
        var statuses = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var latencies = new List<double>(Math.Min(count, 1_000_000));
        long sent = 0;
        var clock = Stopwatch.StartNew();

        async Task WorkerAsync()
        {
            while (!deadline.IsCancellationRequested)
            {
                string body;
                lock (gate)
                {
                    if (sent >= count || !bodies.MoveNext())
                    {
                        return;
                    }

                    sent++;
                    body = bodies.Current;
                }

                long started = Stopwatch.GetTimestamp();
                string status;
                try
                {
                    using var content = new StringContent(body, Encoding.UTF8, "application/json");
                    using HttpResponseMessage response = await client.PostAsync(url, content, deadline.Token).ConfigureAwait(false);
                    status = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                    status = "cancelled_at_deadline";
                }
                catch (HttpRequestException ex)
                {
                    status = $"error:{ex.HttpRequestError}";
                }

                double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                lock (gate)
                {
                    statuses[status] = statuses.GetValueOrDefault(status) + 1;
                    latencies.Add(ms);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkerAsync, CancellationToken.None))).ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        latencies.Sort();

        await using var writer = new JsonLineWriter(io.Output);
        Utf8JsonWriter json = writer.Json;
        json.WriteStartObject();
        json.WriteString("url", url.ToString());
        json.WriteNumber("sent", sent);
        json.WriteNumber("seconds", Math.Round(seconds, 3));
        json.WriteNumber("events_per_second", seconds > 0 ? Math.Round(latencies.Count / seconds, 1) : 0);
        json.WriteNumber("concurrency", concurrency);
        json.WriteStartObject("status");
        foreach ((string status, long n) in statuses)
        {
            json.WriteNumber(status, n);
        }

        json.WriteEndObject();
        json.WriteStartObject("latency_ms");
        json.WriteNumber("p50", Percentile(latencies, 0.50));
        json.WriteNumber("p95", Percentile(latencies, 0.95));
        json.WriteNumber("p99", Percentile(latencies, 0.99));
        json.WriteNumber("max", latencies.Count > 0 ? Math.Round(latencies[^1], 3) : 0);
        json.WriteEndObject();
        json.WriteString("data", ReplayCommand.Attribution);
        json.WriteEndObject();
        await writer.EndLineAsync(cancellationToken).ConfigureAwait(false);
        return statuses.Keys.All(k => k.StartsWith('2')) ? 0 : 1;
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

    /// <summary>Usage events from the trace, users and models assigned as in <c>replay</c>, looping over the trace if needed.</summary>
    private static IEnumerable<string> Bodies(List<string> files, string tenant, int users, double exponent, ulong seed,
        List<(string? Provider, string Model)> models)
    {
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
                    using var buffer = new MemoryStream();
                    using (var json = new Utf8JsonWriter(buffer))
                    {
                        json.WriteStartObject();
                        json.WriteString("event_id", $"load-{seed}-{row}");
                        json.WriteString("tenant_id", tenant);
                        json.WriteString("user_id", $"user-{user}");
                        if (provider is not null)
                        {
                            json.WriteString("provider", provider);
                        }

                        json.WriteString("model", model);
                        // Later passes over the trace move forward by whole days so events stay distinct in time.
                        json.WriteString("timestamp", timestamp.AddDays(pass).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
                        json.WriteStartObject("usage");
                        json.WriteNumber("input_tokens", input);
                        json.WriteNumber("output_tokens", output);
                        json.WriteEndObject();
                        json.WriteEndObject();
                    }

                    yield return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
                }
            }

            if (!any)
            {
                yield break;
            }
        }
    }
}
