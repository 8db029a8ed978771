extern alias cli;

using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmCost.Client.Tests.Infrastructure;
using LlmCost.Functions.Hosting;
using LlmCost.Hosting;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using CliApp = cli::LlmCost.Cli.CliApp;
using CliDefaults = cli::LlmCost.Cli.CliDefaults;
using CliStreams = cli::LlmCost.Cli.CliStreams;

namespace LlmCost.Client.Tests;

/// <summary>
/// <c>llmcost import</c> against the real service: history older than the ingest window goes in (admin import),
/// a rerun records nothing twice, an import killed halfway and resumed ends with exactly the totals of an
/// uninterrupted one, and the imported events reach the rollups.
/// </summary>
public sealed class ImportServiceTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    private const int Rows = 10_000;
    private readonly LlmCostTestHost _host = service.Host;

    /// <summary>A generic CSV of <paramref name="rows"/> calls 420-450 days ago (beyond the 400-day ingest window).</summary>
    private static string WriteHistory(int rows)
    {
        string path = Path.Combine(Path.GetTempPath(), $"llmcost-history-{Guid.NewGuid():N}.csv");
        DateTimeOffset start = DateTimeOffset.UtcNow.Date.AddDays(-450);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        writer.WriteLine("timestamp,user_id,team_id,provider,model,input_tokens,cache_read_tokens,output_tokens,tag.feature");
        for (int i = 0; i < rows; i++)
        {
            DateTimeOffset at = start.AddSeconds(i * 259L); // ~30 days
            (string provider, string model) = (i % 3) switch
            {
                0 => ("openai", "gpt-4o-mini"),
                1 => ("openai", "gpt-4o"),
                _ => ("anthropic", "claude-3-5-haiku-20241022"),
            };
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{at:yyyy-MM-ddTHH:mm:ssZ},user-{i % 20},team-{i % 4},{provider},{model},{1000 + (i % 700)},{i % 300},{50 + (i % 400)},f{i % 5}"));
        }

        // Identical calls are distinct calls: the last row repeats the first.
        writer.WriteLine(File.ReadLines(path).Skip(1).First());
        return path;
    }

    private static async Task<(int Exit, JsonElement Summary, string Errors)> ImportAsync(params string[] args)
    {
        using var output = new MemoryStream();
        using var errors = new StringWriter();
        int exit = await CliApp.RunAsync(["import", .. args], new CliStreams(Stream.Null, output, errors), CliDefaults.Services);
        string text = Encoding.UTF8.GetString(output.ToArray());
        Assert.True(text.Length > 0, $"no summary; stderr: {errors}");
        return (exit, JsonDocument.Parse(text).RootElement.Clone(), errors.ToString());
    }

    private string[] Args(string tenant, string file, params string[] more) =>
        ["--url", _host.BaseAddress.ToString(), "--key", LlmCostTestHost.AdminKey, "--tenant", tenant, "--format", "csv", "--no-progress", .. more, file];

    private async Task<(decimal Cost, long Events, long Input, long Output)> TenantTotalsAsync(string tenant)
    {
        // These days are past raw retention, so the query answers them from the rollups, which the rollup timer
        // (every 5 minutes) brings up to date with imported history: once what was acknowledged is projected, run
        // it, as the timer would.
        Assert.True(await _host.Services.GetRequiredService<LlmCost.Storage.Recording.UsageProjectionTracker>().WaitForAppliedAsync(TimeSpan.FromMinutes(3)),
            "the imported events were not projected within 3 minutes");
        await _host.Services.GetServices<IBackgroundFunction>().Single(f => f.Definition.Name == "OpsRollups")
            .InvokeAsync(new FunctionInvocation("OpsRollups", Guid.NewGuid().ToString()));
        // Just the days the history covers (450 to ~420 days ago).
        string from = DateTime.UtcNow.Date.AddDays(-451).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        string to = DateTime.UtcNow.Date.AddDays(-418).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        (int status, JsonElement body) = await _host.Client.GetJsonAsync($"api/tenants/{tenant}/usage?from={from}&to={to}");
        Assert.True(status == 200, body.ToString());
        JsonElement total = body.GetProperty("total");
        return (total.Money("cost_usd"), total.GetProperty("events").GetInt64(), total.GetProperty("input_tokens").GetInt64(),
            total.GetProperty("output_tokens").GetInt64());
    }

    [Fact]
    public async Task History_beyond_the_ingest_window_needs_an_admin_import_and_stays_bounded()
    {
        string old = DateTimeOffset.UtcNow.AddDays(-500).ToString("O", CultureInfo.InvariantCulture);
        object Usage(string user) => new
        {
            tenant_id = "window", user_id = user, provider = "openai", model = "gpt-4o-mini", timestamp = old,
            usage = new { input_tokens = 10, output_tokens = 10 },
        };
        string ingestKey = await _host.CreateKeyAsync("ingest", "window");
        using HttpClient ingest = _host.CreateClient(ingestKey);

        (int normal, JsonElement refused) = await _host.Client.PostAsync("api/usage", Usage("a"));
        Assert.Equal(400, normal);
        Assert.True(refused.GetProperty("errors").TryGetProperty("timestamp", out _));
        Assert.Equal(200, (await _host.Client.PostAsync("api/usage?import=true", Usage("a"))).Status);
        Assert.Equal(403, (await ingest.PostAsync("api/usage?import=true", Usage("b"))).Status); // admin only
        (int bad, JsonElement badBody) = await _host.Client.PostAsync("api/usage?import=yes", Usage("c"));
        Assert.Equal(400, bad);
        Assert.True(badBody.GetProperty("errors").TryGetProperty("import", out _));
        string tooOld = DateTimeOffset.UtcNow.AddDays(-1200).ToString("O", CultureInfo.InvariantCulture);
        (int beyond, _) = await _host.Client.PostAsync("api/usage?import=true", new
        {
            tenant_id = "window", user_id = "d", provider = "openai", model = "gpt-4o-mini", timestamp = tooOld,
            usage = new { input_tokens = 10, output_tokens = 10 },
        });
        Assert.Equal(400, beyond); // the import window (1096 days by default) still bounds it
    }

    [Fact]
    public async Task Importing_twice_records_once_and_a_killed_import_resumes_to_exactly_the_same_totals()
    {
        string file = WriteHistory(Rows);
        string killedState = file + ".killed.json";
        try
        {
            // Baseline: one uninterrupted import into tenant "imp-a".
            (int exit, JsonElement first, string errors) = await ImportAsync(Args("imp-a", file));
            Assert.True(exit == 0, first + errors);
            Assert.Equal(Rows + 1, first.GetProperty("recorded").GetInt64());
            Assert.Equal(0, first.GetProperty("rejected").GetInt64());
            decimal cost = decimal.Parse(first.GetProperty("cost_usd_recorded").GetString()!, CultureInfo.InvariantCulture);
            var baseline = await TenantTotalsAsync("imp-a");
            Assert.Equal((cost, (long)Rows + 1), (baseline.Cost, baseline.Events));

            // Twice: the checkpoint says done; forced from the top, every row is a duplicate and nothing changes.
            (_, JsonElement noop, _) = await ImportAsync(Args("imp-a", file));
            Assert.Equal(0, noop.GetProperty("recorded").GetInt64());
            Assert.Contains("already imported", noop.GetProperty("note").GetString(), StringComparison.Ordinal);
            (int again, JsonElement second, _) = await ImportAsync(Args("imp-a", file, "--restart"));
            Assert.Equal(0, again);
            Assert.Equal((0L, (long)Rows + 1), (second.GetProperty("recorded").GetInt64(), second.GetProperty("duplicates").GetInt64()));
            Assert.Equal(cost, decimal.Parse(second.GetProperty("cost_usd_duplicates").GetString()!, CultureInfo.InvariantCulture));
            Assert.Equal(baseline, await TenantTotalsAsync("imp-a"));

            // Killed: the real CLI process, stopped hard once a third of the rows are checkpointed.
            await KillHalfwayAsync("imp-b", file, killedState);
            (int resumedExit, JsonElement resumed, string resumedErrors) = await ImportAsync(Args("imp-b", file, "--state", killedState));
            Assert.True(resumedExit == 0, resumed + resumedErrors);
            long resumedFrom = resumed.GetProperty("resumed_from_record").GetInt64();
            Assert.InRange(resumedFrom, Rows / 3, Rows);
            Assert.Equal(Rows + 1 - resumedFrom, resumed.GetProperty("recorded").GetInt64() + resumed.GetProperty("duplicates").GetInt64());
            Assert.Equal(baseline, await TenantTotalsAsync("imp-b"));

            // The imported history reached the rollups through the normal recording path.
            await _host.Services.GetServices<IBackgroundFunction>().Single(f => f.Definition.Name == "OpsRollups")
                .InvokeAsync(new FunctionInvocation("OpsRollups", Guid.NewGuid().ToString()));
            string from = DateTime.UtcNow.Date.AddDays(-451).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            string to = DateTime.UtcNow.Date.AddDays(-418).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            // Day rollups: a month rollup is returned only when its month starts inside [from, to].
            (int status, JsonElement rollups) = await _host.Client.GetJsonAsync($"api/rollups?tenant_id=imp-b&granularity=day&from={from}&to={to}&dimension=model");
            Assert.Equal(200, status);
            List<JsonElement> rows = [.. rollups.GetProperty("rows").EnumerateArray()];
            Assert.Equal(baseline.Events, rows.Sum(r => r.GetProperty("requests").GetInt64()));
            Assert.Equal(baseline.Cost, rows.Sum(r => r.Money("cost_usd")));
        }
        finally
        {
            foreach (string path in new[] { file, file + ".llmcost-import.json", killedState })
            {
                File.Delete(path);
            }
        }
    }

    /// <summary>
    /// Runs the real CLI as a process through a slowed-down loopback link, cuts the link once a third of the rows are
    /// checkpointed (so the process is stuck mid-import, whatever the machine's load), and kills it with SIGKILL.
    /// </summary>
    private async Task KillHalfwayAsync(string tenant, string file, string state)
    {
        await using var link = new TcpForwarder(_host.BaseAddress) { Latency = TimeSpan.FromMilliseconds(5) };
        link.Start();
        string dll = Path.Combine(AppContext.BaseDirectory, "llmcost.dll");
        string host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (string[])[dll, "import", "--url", link.Address.ToString(), "--tenant", tenant, "--format", "csv",
            "--state", state, "--batch-size", "100", "--concurrency", "2", "--no-progress", file])
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["LLMCOST_API_KEY"] = LlmCostTestHost.AdminKey; // never on the command line
        using var process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();

        // Watched, cut and killed from a thread of its own: a busy thread pool must not delay the kill until the
        // process has given up on the cut link by itself.
        bool killedWhileRunning = await Task.Factory.StartNew(() =>
        {
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromMinutes(5) && !process.HasExited)
            {
                if (File.Exists(state) && ReadDone(state) >= Rows / 3)
                {
                    link.Stop();
                    bool running = !process.HasExited;
                    try
                    {
                        process.Kill(entireProcessTree: true);
                    }
                    catch (InvalidOperationException)
                    {
                        running = false; // it had exited after all
                    }

                    return running;
                }

                Thread.Sleep(5);
            }

            return false;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        await process.WaitForExitAsync();
        Assert.True(killedWhileRunning, $"the import ended before it could be killed a third of the way: {await stdout} {await stderr}");
        Assert.InRange(ReadDone(state), Rows / 3, Rows - 1);
    }

    private static long ReadDone(string state)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(state));
            return document.RootElement.GetProperty("records_done").GetInt64();
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            return 0; // being replaced right now
        }
    }
}
