// Long on purpose: `llmcost import` with its resumable checkpoint, batching and summary; the formats it reads are in
// ImportFormats.cs.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LlmCost.Client;
using Spectre.Console;

namespace LlmCost.Cli.Import;

/// <summary>
/// <c>llmcost import</c>: streams past usage (provider exports, gateway logs, a generic CSV) into the service in
/// batches, resumable and idempotent.
/// </summary>
/// <remarks>
/// Idempotent twice over: every event id is derived from the row (the source's own id, or a hash of its identity),
/// so a rerun is answered "duplicate" and counted once; and a checkpoint records how far the service has answered
/// (a contiguous prefix of the input's records), so a rerun after a kill starts there instead of at the top. Batches
/// in flight when the process died are sent again and come back as duplicates. The events go through the normal
/// recording path (<c>POST /api/usage?import=true</c>, admin only: older timestamps are allowed up to the service's
/// import window), so they reach summaries, team/tenant scopes and rollups like live traffic.
/// </remarks>
internal static class ImportCommand
{
    public const string Help = """
        llmcost import --url http://127.0.0.1:7071 --key-env LLMCOST_API_KEY --tenant TENANT
                       --format openai-usage|anthropic-usage|litellm-spend|csv FILE
                       [--key KEY] [--state FILE] [--restart] [--default-user import]
                       [--batch-size 500] [--concurrency 4] [--no-progress]
          Streams past usage into the service (admin key: POST /api/usage?import=true), in batches, resumable
          from the checkpoint FILE.llmcost-import.json (or --state), idempotent on rerun (event ids derived from
          each row). FILE is JSON lines, one JSON document, or CSV with a header. Prints a progress bar on a
          terminal and a one-line JSON summary on stdout. Exit 0: all rows recorded or skipped; 1: some rows were
          rejected (listed by reason); 3: stopped because the service was unavailable (rerun to resume).
        """;

    private static readonly TimeSpan CheckpointEvery = TimeSpan.FromMilliseconds(250);

    public static async Task<int> RunAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        string urlText = args.Option("url") ?? throw new CliUsageException("--url is required (e.g. http://127.0.0.1:7071)");
        string? key = args.Option("key");
        string? keyVariable = args.Option("key-env");
        string tenant = args.Option("tenant") ?? throw new CliUsageException("--tenant is required");
        string formatName = args.Option("format") ?? throw new CliUsageException("--format is required (openai-usage, anthropic-usage, litellm-spend or csv)");
        string? statePath = args.Option("state");
        bool restart = args.Flag("restart");
        bool noProgress = args.Flag("no-progress");
        string defaultUser = args.Option("default-user") ?? "import";
        int batchSize = args.IntOption("batch-size", LlmCostClient.MaxEventsPerRequest, 1, LlmCostClient.MaxEventsPerRequest);
        int concurrency = args.IntOption("concurrency", 4, 1, 32);
        args.EnsureAllUsed();

        ImportFormat format = ImportFormat.ByName(formatName)
            ?? throw new CliUsageException($"--format must be openai-usage, anthropic-usage, litellm-spend or csv, got '{formatName}'");
        if (args.Positionals.Count != 1)
        {
            throw new CliUsageException("give exactly one input FILE");
        }

        string file = Path.GetFullPath(args.Positionals[0]);
        if (!File.Exists(file))
        {
            throw new CliUsageException($"no such file: {file}");
        }

        if (!Uri.TryCreate(urlText, UriKind.Absolute, out Uri? url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliUsageException($"--url must be an absolute http(s) URL, got '{urlText}'");
        }

        // The service root, whether given as http://host:7071 or .../api/usage.
        string root = url.GetLeftPart(UriPartial.Path);
        int api = root.IndexOf("/api/", StringComparison.Ordinal);
        url = new Uri(api >= 0 ? root[..(api + 1)] : root.TrimEnd('/') + "/");

        // A key on the command line lands in shell history and process lists: prefer the environment.
        if (key is null)
        {
            string variable = keyVariable ?? "LLMCOST_API_KEY";
            key = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(key))
            {
                throw new CliUsageException($"an admin key is needed: set {variable} (or --key-env NAME, or --key KEY)");
            }
        }

        if (!LlmCostIds.IsValid(tenant) || !LlmCostIds.IsValid(defaultUser))
        {
            throw new CliUsageException("--tenant and --default-user must be valid ids (1-128 characters, none of / \\ # ? |)");
        }

        statePath = Path.GetFullPath(statePath ?? file + ".llmcost-import.json");
        string fingerprint = ImportSource.Fingerprint(file, format.Name, tenant);
        ImportCheckpoint? checkpoint = restart ? null : ImportCheckpoint.Load(statePath);
        if (checkpoint is not null && (checkpoint.Fingerprint != fingerprint || checkpoint.Format != format.Name || checkpoint.TenantId != tenant))
        {
            throw new CliUsageException(
                $"the checkpoint {statePath} belongs to another input, format or tenant; use --restart to import from the top (already recorded rows stay counted once) or --state to keep both");
        }

        var summary = new ImportSummary(file, format.Name, tenant, checkpoint?.RecordsDone ?? 0);
        if (checkpoint?.Completed == true)
        {
            summary.Note = "already imported (checkpoint complete); --restart sends everything again, answered as duplicates";
            await summary.WriteAsync(io.Output, cancellationToken).ConfigureAwait(false);
            return 0;
        }

        var options = new LlmCostClientOptions
        {
            BaseAddress = url,
            ApiKey = key,
            TenantId = tenant,
            MaxRetryAttempts = 5,
            AttemptTimeout = TimeSpan.FromSeconds(60),
            // An import is one long client: a tripped breaker would only turn a slow moment into a stop.
            CircuitBreakerMinimumThroughput = int.MaxValue,
        };
        await using var client = LlmCostClient.Create(options, services.Time);
        using var source = new ImportSource(file, format, new ImportContext(tenant, defaultUser, services.Time.GetUtcNow()));
        var run = new ImportRun(client, source, summary, checkpoint, statePath, fingerprint, format.Name, tenant, file, batchSize, concurrency, services.Time);

        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(io.Error) });
        bool interactive = !noProgress && ReferenceEquals(io.Error, Console.Error) && !Console.IsErrorRedirected && console.Profile.Capabilities.Interactive;
        if (interactive)
        {
            await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    ProgressTask task = context.AddTask($"importing {Path.GetFileName(file)}", maxValue: Math.Max(1, source.Length));
                    await run.RunAsync(() =>
                    {
                        // What was read, scaled by how much of it the service has answered (reading runs ahead).
                        double answered = summary.Records == 0 ? 0 : (double)summary.Answered / summary.Records;
                        task.Value = source.Position * answered;
                        task.Description = $"{summary.Recorded:N0} recorded, {summary.Duplicates:N0} duplicates, {summary.Rejected:N0} rejected";
                    }, cancellationToken).ConfigureAwait(false);
                    task.Value = task.MaxValue;
                }).ConfigureAwait(false);
        }
        else
        {
            long lastReport = Stopwatch.GetTimestamp();
            await run.RunAsync(() =>
            {
                if (!noProgress && Stopwatch.GetElapsedTime(lastReport) >= TimeSpan.FromSeconds(5))
                {
                    lastReport = Stopwatch.GetTimestamp();
                    io.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"import: {100.0 * source.Position / Math.Max(1, source.Length):0.0}% read, {summary.Answered} of {summary.Records} answered, {summary.Recorded} recorded, {summary.Duplicates} duplicates, {summary.Rejected} rejected"));
                }
            }, cancellationToken).ConfigureAwait(false);
        }

        if (interactive)
        {
            summary.Render(console);
        }

        await summary.WriteAsync(io.Output, cancellationToken).ConfigureAwait(false);
        return summary.Stopped is not null ? 3 : summary.Rejected > 0 ? 1 : 0;
    }
}

/// <summary>The counts of one run, printed at the end (JSON on stdout; a table on a terminal).</summary>
internal sealed class ImportSummary(string file, string format, string tenant, long resumedFrom)
{
    private readonly object _gate = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public long RowsRead { get; set; }
    public long Records { get; set; }
    public long ResumedFrom { get; } = resumedFrom;
    public long Recorded { get; private set; }

    /// <summary>Records decided so far: recorded, duplicate, rejected or skipped.</summary>
    public long Answered
    {
        get
        {
            lock (_gate)
            {
                return Recorded + Duplicates + Rejected + Skipped;
            }
        }
    }

    public long Duplicates { get; private set; }
    public long Rejected { get; private set; }
    public long Skipped { get; private set; }
    public long Unpriced { get; private set; }
    public decimal CostRecordedUsd { get; private set; }
    public decimal CostDuplicatesUsd { get; private set; }
    public SortedDictionary<string, long> RejectedReasons { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> SkippedReasons { get; } = new(StringComparer.Ordinal);
    public List<string> RejectedExamples { get; } = [];
    public string? Stopped { get; set; }
    public string? Note { get; set; }

    public void Add(EventOutcome outcome, string source)
    {
        lock (_gate)
        {
            switch (outcome.Status)
            {
                case EventStatus.Recorded:
                    Recorded++;
                    CostRecordedUsd += outcome.Result?.CostUsd ?? 0m;
                    Unpriced += outcome.Result?.Priced == false ? 1 : 0;
                    break;
                case EventStatus.Duplicate:
                    Duplicates++;
                    CostDuplicatesUsd += outcome.Result?.CostUsd ?? 0m;
                    Unpriced += outcome.Result?.Priced == false ? 1 : 0;
                    break;
                default:
                    AddRejectedLocked(source, string.Join("; ", outcome.Errors.Select(Reason)));
                    break;
            }
        }
    }

    public void AddRejected(string source, string reason)
    {
        lock (_gate)
        {
            AddRejectedLocked(source, reason);
        }
    }

    public void AddSkipped(string reason)
    {
        lock (_gate)
        {
            Skipped++;
            SkippedReasons[reason] = SkippedReasons.GetValueOrDefault(reason) + 1;
        }
    }

    private void AddRejectedLocked(string source, string reason)
    {
        Rejected++;
        RejectedReasons[reason] = RejectedReasons.GetValueOrDefault(reason) + 1;
        if (RejectedExamples.Count < 20)
        {
            RejectedExamples.Add($"{source}: {reason}");
        }
    }

    /// <summary>"events[3].usage.x must ..." → "usage.x must ...": the same reason for every row it hits.</summary>
    private static string Reason(string error)
    {
        int close = error.StartsWith("events[", StringComparison.Ordinal) ? error.IndexOf("].", StringComparison.Ordinal) : -1;
        return close >= 0 ? error[(close + 2)..] : error;
    }

    public async Task WriteAsync(Stream output, CancellationToken cancellationToken)
    {
        double seconds = _clock.Elapsed.TotalSeconds;
        await using var writer = new JsonLineWriter(output);
        Utf8JsonWriter json = writer.Json;
        json.WriteStartObject();
        json.WriteString("file", file);
        json.WriteString("format", format);
        json.WriteString("tenant_id", tenant);
        json.WriteNumber("rows_read", RowsRead);
        json.WriteNumber("records", Records);
        json.WriteNumber("resumed_from_record", ResumedFrom);
        json.WriteNumber("recorded", Recorded);
        json.WriteNumber("duplicates", Duplicates);
        json.WriteNumber("rejected", Rejected);
        json.WriteNumber("skipped", Skipped);
        json.WriteNumber("unpriced", Unpriced);
        json.WriteString("cost_usd_recorded", CostRecordedUsd.ToString(CultureInfo.InvariantCulture));
        json.WriteString("cost_usd_duplicates", CostDuplicatesUsd.ToString(CultureInfo.InvariantCulture));
        json.WriteNumber("seconds", Math.Round(seconds, 3));
        json.WriteNumber("events_per_second", seconds > 0 ? Math.Round((Recorded + Duplicates) / seconds, 1) : 0);
        WriteReasons(json, "rejected_reasons", RejectedReasons);
        WriteReasons(json, "skipped_reasons", SkippedReasons);
        json.WriteStartArray("rejected_examples");
        foreach (string example in RejectedExamples)
        {
            json.WriteStringValue(example);
        }

        json.WriteEndArray();
        if (Stopped is not null)
        {
            json.WriteString("stopped", Stopped);
        }

        if (Note is not null)
        {
            json.WriteString("note", Note);
        }

        json.WriteEndObject();
        await writer.EndLineAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void WriteReasons(Utf8JsonWriter json, string name, SortedDictionary<string, long> reasons)
    {
        json.WriteStartObject(name);
        foreach ((string reason, long count) in reasons)
        {
            json.WriteNumber(reason, count);
        }

        json.WriteEndObject();
    }

    public void Render(IAnsiConsole console)
    {
        var table = new Table().AddColumn("import").AddColumn(new TableColumn("count").RightAligned());
        table.AddRow("rows read", RowsRead.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("recorded", Recorded.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("duplicates (counted before)", Duplicates.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("rejected", Rejected.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("skipped", Skipped.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("cost recorded (USD)", CostRecordedUsd.ToString(CultureInfo.InvariantCulture));
        foreach ((string reason, long count) in RejectedReasons.Take(10))
        {
            table.AddRow(Markup.Escape("rejected: " + reason), count.ToString("N0", CultureInfo.InvariantCulture));
        }

        console.Write(table);
        if (Stopped is not null)
        {
            console.MarkupLine($"[red]stopped:[/] {Markup.Escape(Stopped)} (rerun the same command to resume)");
        }
    }
}

/// <summary>The send loop: batches in order, a few in flight, the checkpoint advanced over the answered prefix.</summary>
internal sealed class ImportRun(
    LlmCostClient client, ImportSource source, ImportSummary summary, ImportCheckpoint? checkpoint, string statePath,
    string fingerprint, string format, string tenant, string file, int batchSize, int concurrency, TimeProvider time)
{
    private readonly object _gate = new();
    private readonly SortedDictionary<long, long> _finished = [];
    private long _nextBatch;
    private long _done = checkpoint?.RecordsDone ?? 0;
    private long _lastSaved = long.MinValue;

    public async Task RunAsync(Action progress, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var slots = new SemaphoreSlim(concurrency);
        var inFlight = new List<Task>();
        long resumeFrom = checkpoint?.RecordsDone ?? 0;
        long ordinal = 0;
        long batchIndex = 0;
        var batch = new List<(string Source, UsageEvent Event)>(batchSize);
        long batchStart = resumeFrom;

        async Task DispatchAsync(long end)
        {
            List<(string Source, UsageEvent Event)> toSend = [.. batch];
            long index = batchIndex++;
            batch.Clear();
            await slots.WaitAsync(stop.Token).ConfigureAwait(false);
            inFlight.RemoveAll(t => t.IsCompleted);
            inFlight.Add(Task.Run(async () =>
            {
                try
                {
                    if (toSend.Count > 0)
                    {
                        RecordBatchResult result = await client.RecordBatchAsync(
                            toSend.Select(s => s.Event).ToList(), new RecordBatchOptions { Import = true }, stop.Token).ConfigureAwait(false);
                        for (int i = 0; i < toSend.Count; i++)
                        {
                            summary.Add(result.Events[i], toSend[i].Source);
                        }
                    }

                    Finished(index, end);
                }
                catch (Exception ex) when (ex is LlmCostException || (ex is OperationCanceledException && stop.IsCancellationRequested))
                {
                    lock (_gate)
                    {
                        summary.Stopped ??= ex is LlmCostException ? ex.Message : "cancelled";
                    }

                    await stop.CancelAsync().ConfigureAwait(false);
                }
                finally
                {
                    slots.Release();
                    progress();
                }
            }, CancellationToken.None));
        }

        try
        {
            foreach (ImportRecord record in source.Records())
            {
                summary.RowsRead = source.RowsRead;
                if (ordinal++ < resumeFrom)
                {
                    continue; // answered in an earlier run (parsed anyway: content ids count identical rows)
                }

                summary.Records++;
                if (record.Event is { } e)
                {
                    batch.Add((record.Source, e));
                }
                else if (record.Skipped is not null)
                {
                    summary.AddSkipped(record.Skipped);
                }
                else
                {
                    summary.AddRejected(record.Source, record.Rejected ?? "unreadable");
                }

                if (batch.Count >= batchSize)
                {
                    await DispatchAsync(ordinal).ConfigureAwait(false);
                    batchStart = ordinal;
                }

                stop.Token.ThrowIfCancellationRequested();
            }

            summary.RowsRead = source.RowsRead;
            if (ordinal > batchStart || batch.Count > 0)
            {
                await DispatchAsync(ordinal).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            summary.Stopped ??= "cancelled";
        }

        await Task.WhenAll(inFlight).ConfigureAwait(false);
        bool completed = summary.Stopped is null;
        Save(completed);
        progress();
    }

    /// <summary>Batch <paramref name="index"/> is answered; the checkpoint moves over every batch answered in order.</summary>
    private void Finished(long index, long end)
    {
        lock (_gate)
        {
            _finished[index] = end;
            while (_finished.Remove(_nextBatch, out long batchEnd))
            {
                _done = batchEnd;
                _nextBatch++;
            }

            long now = time.GetTimestamp();
            if (_lastSaved == long.MinValue || time.GetElapsedTime(_lastSaved, now) >= TimeSpan.FromMilliseconds(250))
            {
                _lastSaved = now;
                SaveLocked(completed: false);
            }
        }
    }

    private void Save(bool completed)
    {
        lock (_gate)
        {
            SaveLocked(completed);
        }
    }

    private void SaveLocked(bool completed) => new ImportCheckpoint
    {
        Fingerprint = fingerprint,
        Format = format,
        TenantId = tenant,
        File = file,
        RecordsDone = _done,
        Completed = completed,
        UpdatedAt = time.GetUtcNow(),
    }.Save(statePath);
}
