using System.Globalization;
using System.Net;
using LlmCost.Core.Retention;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Operations;

/// <summary>
/// History is never lost and one number holds everywhere: archived days keep their totals through late events and
/// reruns, the usage API answers archived periods from the rollups (never a silent 0), and an on-demand report
/// equals the API for the period it states. Retention is 1 day here, so "3 days ago" is archived.
/// </summary>
public sealed class HistoryTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 5, 20, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Day = new(2026, 5, 17, 0, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o =>
    {
        o.Time = _time;
        o.Settings["LlmCost:Retention:RawEventDays"] = "1";
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task InvokeAsync(string name) =>
        _host.Services.GetServices<IBackgroundFunction>().Single(f => f.Definition.Name == name).InvokeAsync(new FunctionInvocation(name, Guid.NewGuid().ToString()));

    private async Task<decimal> RecordAsync(string eventId, string user, DateTimeOffset at, long input = 1000, long output = 100)
    {
        var (status, body) = await _host.Client.PostAsync("api/usage", new
        {
            event_id = eventId, tenant_id = "acme", user_id = user, team_id = "red", provider = "openai", model = "gpt-4o",
            timestamp = at.ToString("O", CultureInfo.InvariantCulture), usage = new { input_tokens = input, output_tokens = output },
        });
        Assert.True(status == 200, body.ToString());
        return body.Money("cost_usd");
    }

    private async Task<decimal> DayRollupCostAsync(string dimension, string key)
    {
        var (_, body) = await _host.Client.GetJsonAsync($"api/rollups?tenant_id=acme&granularity=day&from=2026-05-17&to=2026-05-17&dimension={dimension}");
        return body.GetProperty("rows").EnumerateArray().Where(r => r.GetProperty("key").GetString() == key).Sum(r => r.Money("cost_usd"));
    }

    [Fact]
    public async Task ALateEventForAnArchivedDayIsMergedAndTheDayKeepsEverythingItHad()
    {
        var early = 0m;
        for (var i = 0; i < 3; i++)
        {
            early += await RecordAsync($"e{i}", "alice", Day.AddHours(9 + i));
        }

        await InvokeAsync("OpsRollups");
        await InvokeAsync("OpsRetention");
        Assert.Equal(early, await DayRollupCostAsync("tenant", "acme"));
        var archive = _host.Services.GetRequiredService<IArchiveStore>();
        Assert.Equal(3, EventArchive.ReadLines((await archive.ReadAsync("archive/acme/2026/05/17.jsonl.gz"))!).Count);

        // A late event for that day: the day's rollups must hold all four, not just the one raw row left.
        _time.Advance(TimeSpan.FromMinutes(10));
        var late = await RecordAsync("late", "bob", Day.AddHours(20));
        await InvokeAsync("OpsRollups");
        Assert.Equal(early + late, await DayRollupCostAsync("tenant", "acme"));
        Assert.Equal(early, await DayRollupCostAsync("user", "alice"));

        // The next retention run merges the late event into the archive: never fewer lines than before.
        await InvokeAsync("OpsRetention");
        var lines = EventArchive.ReadLines((await archive.ReadAsync("archive/acme/2026/05/17.jsonl.gz"))!);
        Assert.Equal(["e0", "e1", "e2", "late"], lines.Select(l => l.EventId).Order(StringComparer.Ordinal));
        await InvokeAsync("OpsRollups");
        Assert.Equal(early + late, await DayRollupCostAsync("tenant", "acme"));
    }

    [Fact]
    public async Task AUsageQueryOverAnArchivedPeriodAnswersFromTheRollupsAndSaysSo()
    {
        var cost = await RecordAsync("a1", "alice", Day.AddHours(9), 2000, 300) + await RecordAsync("a2", "alice", Day.AddHours(15));
        var today = await RecordAsync("a3", "alice", Now.AddHours(-1));
        await InvokeAsync("OpsRollups");
        await InvokeAsync("OpsRetention");

        var (status, usage) = await _host.Client.GetJsonAsync("api/users/alice/usage?tenant_id=acme&from=2026-05-17&to=2026-05-21");
        Assert.Equal(200, status);
        Assert.Equal(cost + today, usage.GetProperty("total").Money("cost_usd"));
        Assert.Equal(3, usage.GetProperty("total").GetProperty("events").GetInt64());
        Assert.Equal(4000, usage.GetProperty("total").GetProperty("input_tokens").GetInt64());
        var archived = usage.GetProperty("archived");
        Assert.Equal("rollups", archived.GetProperty("source").GetString());
        Assert.Equal(new DateTimeOffset(2026, 5, 19, 0, 0, 0, TimeSpan.Zero), archived.GetProperty("to").GetDateTimeOffset());
        Assert.Contains("cache_read_tokens", archived.GetProperty("not_kept").EnumerateArray().Select(e => e.GetString()));
        var series = usage.GetProperty("series").EnumerateArray().ToList();
        Assert.Equal(cost, series.Single(p => p.GetProperty("period_start").GetDateTimeOffset() == Day).Money("cost_usd"));

        // Team and tenant queries too; the events list says where the older events went.
        var (_, team) = await _host.Client.GetJsonAsync("api/teams/red/usage?tenant_id=acme&from=2026-05-17&to=2026-05-18&granularity=hour");
        Assert.Equal(cost, team.GetProperty("total").Money("cost_usd"));
        Assert.Equal(2, team.GetProperty("series").GetArrayLength());
        var (_, events) = await _host.Client.GetJsonAsync("api/users/alice/events?tenant_id=acme&from=2026-05-17&to=2026-05-21");
        Assert.Equal(["a3"], events.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("event_id").GetString()));
        Assert.Equal(new DateTimeOffset(2026, 5, 19, 0, 0, 0, TimeSpan.Zero), events.GetProperty("archived_before").GetDateTimeOffset());
    }

    [Fact]
    public async Task AReportRightAfterRecordingEqualsTheApiForThePeriodItStates()
    {
        var sent = 0m;
        for (var i = 0; i < 5; i++)
        {
            sent += await RecordAsync($"r{i}", i % 2 == 0 ? "alice" : "bob", Now.AddMinutes(-30 - i), 500 + i, 50);
        }

        // No rollup run in between: the report must not trail the rollup timer.
        var (status, report) = await _host.Client.PostAsync("api/reports", new { tenant_id = "acme", period = "day", date = "2026-05-20" });
        Assert.Equal(201, status);
        var (_, api) = await _host.Client.GetJsonAsync("api/tenants/acme/usage?from=2026-05-20&to=2026-05-21");
        Assert.Equal(api.GetProperty("total").Money("cost_usd"), report.GetProperty("totals").Money("cost_usd"));
        Assert.Equal(sent, report.GetProperty("totals").Money("cost_usd"));
        Assert.Equal(api.GetProperty("total").GetProperty("events").GetInt64(), report.GetProperty("totals").GetProperty("requests").GetInt64());
        Assert.Equal(new DateTimeOffset(2026, 5, 20, 0, 0, 0, TimeSpan.Zero), report.GetProperty("start").GetDateTimeOffset());
        Assert.Equal(new DateTimeOffset(2026, 5, 21, 0, 0, 0, TimeSpan.Zero), report.GetProperty("end").GetDateTimeOffset());
        Assert.Equal(Now, report.GetProperty("as_of").GetDateTimeOffset());

        // The monthly report of the same data agrees as well.
        var (_, month) = await _host.Client.PostAsync("api/reports", new { tenant_id = "acme", period = "month", date = "2026-05-01" });
        Assert.Equal(sent, month.GetProperty("totals").Money("cost_usd"));
        using var csv = await _host.Client.GetAsync(new Uri(report.GetProperty("files")[0].GetProperty("download_url").GetString()!));
        Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        Assert.Contains("tenant,acme,5,", await csv.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
