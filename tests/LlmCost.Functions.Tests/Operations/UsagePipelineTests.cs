using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using LlmCost.Core.Retention;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Storage;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Operations;

/// <summary>
/// The real pipeline, no fakes: events posted to /api/usage (real pricing, real event tables), late events, the
/// rollup timer, GDPR export/delete and retention, all on Azurite. The oracle is what ingestion acknowledged per event.
/// </summary>
public sealed class UsagePipelineTests
{
    private sealed record Sent(string EventId, string User, DateTimeOffset At, decimal Cost);

    private static async Task<List<Sent>> PostAsync(LlmCostTestHost host, IEnumerable<(string User, DateTimeOffset At, string Model, bool Error)> events)
    {
        var batch = events.Select((e, i) => new
        {
            event_id = Guid.NewGuid().ToString("N"),
            tenant_id = "acme",
            user_id = e.User,
            team_id = e.User == "u3" ? null : "red",
            provider = "openai",
            model = e.Model,
            timestamp = e.At.ToString("O", CultureInfo.InvariantCulture),
            status = e.Error ? "error" : "success",
            usage = new { input_tokens = 1000 + (i * 7), output_tokens = 100 + i },
        }).ToList();
        using var response = await host.Client.PostAsJsonAsync("api/usage", new { events = batch });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var doc = JsonDocument.Parse(text);
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        return [.. batch.Zip(results).Select(p => new Sent(
            p.First.event_id, p.First.user_id, DateTimeOffset.Parse(p.First.timestamp, CultureInfo.InvariantCulture),
            decimal.Parse(p.Second.GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture)))];
    }

    private static Task InvokeAsync(LlmCostTestHost host, string name) =>
        host.Services.GetServices<IBackgroundFunction>().Single(f => f.Definition.Name == name).InvokeAsync(new FunctionInvocation(name, Guid.NewGuid().ToString()));

    private static async Task<Dictionary<string, decimal>> UserDayCostsAsync(LlmCostTestHost host, string day)
    {
        using var doc = JsonDocument.Parse(await host.Client.GetStringAsync($"api/rollups?tenant_id=acme&granularity=day&from={day}&to={day}&dimension=user"));
        return doc.RootElement.GetProperty("rows").EnumerateArray()
            .ToDictionary(r => r.GetProperty("key").GetString()!, r => decimal.Parse(r.GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Recorded_events_roll_up_exactly_then_gdpr_and_retention_work_on_the_real_tables()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        await using var host = await LlmCostTestHost.StartAsync(o =>
        {
            o.Time = time;
            o.Settings["LlmCost:Retention:RawEventDays"] = "3";
            o.Settings["LlmCost:Retention:HourRollupDays"] = "400";
        });
        var random = new Random(9);
        var day = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
        var sent = await PostAsync(host, Enumerable.Range(0, 60).Select(i => (
            "u" + random.Next(1, 4), day.AddDays(random.Next(0, 5)).AddMinutes(random.Next(0, 700)), i % 10 == 0 ? "my-private-finetune" : "gpt-4o-mini", i % 7 == 0)));
        await InvokeAsync(host, "OpsRollups");

        // Late events for days already rolled up, written an hour later; then a rerun.
        time.Advance(TimeSpan.FromHours(1));
        sent.AddRange(await PostAsync(host, Enumerable.Range(0, 15).Select(i => ("u" + random.Next(1, 4), day.AddDays(random.Next(0, 3)).AddMinutes(random.Next(0, 1400)), "gpt-4o", false))));
        await InvokeAsync(host, "OpsRollups");
        await InvokeAsync(host, "OpsRollups");

        for (var d = 0; d < 5; d++)
        {
            var date = day.AddDays(d);
            var expected = sent.Where(s => s.At >= date && s.At < date.AddDays(1)).GroupBy(s => s.User).ToDictionary(g => g.Key, g => g.Sum(s => s.Cost));
            Assert.Equal(expected.OrderBy(kv => kv.Key), (await UserDayCostsAsync(host, date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))).OrderBy(kv => kv.Key));
        }

        using (var month = JsonDocument.Parse(await host.Client.GetStringAsync("api/rollups?tenant_id=acme&granularity=month&from=2026-11-01&to=2026-11-30&dimension=model")))
        {
            var unpriced = month.RootElement.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("key").GetString() == "openai/my-private-finetune");
            Assert.Equal(sent.Count(s => s.Cost == 0m), unpriced.GetProperty("unpriced_requests").GetInt64());
        }

        // GDPR export and delete of u2.
        var u2 = sent.Where(s => s.User == "u2").ToList();
        using (var export = JsonDocument.Parse(await host.Client.GetStringAsync("api/users/u2/export?tenant_id=acme")))
        {
            Assert.Equal(u2.Count, export.RootElement.GetProperty("event_count").GetInt32());
            Assert.Equal(u2.Sum(s => s.Cost), decimal.Parse(export.RootElement.GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture));
        }

        using (var deleted = await host.Client.DeleteAsync("api/users/u2?tenant_id=acme"))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }

        using (var export = JsonDocument.Parse(await host.Client.GetStringAsync("api/users/u2/export?tenant_id=acme")))
        {
            Assert.Equal(0, export.RootElement.GetProperty("event_count").GetInt32());
        }

        using (var tenant = JsonDocument.Parse(await host.Client.GetStringAsync("api/rollups?tenant_id=acme&granularity=month&from=2026-11-01&to=2026-11-30")))
        {
            var rows = tenant.RootElement.GetProperty("rows").EnumerateArray().ToList();
            Assert.DoesNotContain(rows, r => r.GetProperty("key").GetString() == "u2");
            Assert.Equal(sent.Where(s => s.User != "u2").Sum(s => s.Cost),
                decimal.Parse(rows.Single(r => r.GetProperty("dimension").GetString() == "tenant").GetProperty("cost_usd").GetString()!, CultureInfo.InvariantCulture));
        }

        var audit = TestStorage.Table(host, OperationsStorage.AuditTable).Query<TableEntity>(e => e.PartitionKey == "acme").ToList();
        Assert.Equal(["gdpr.delete", "gdpr.export", "gdpr.export"], audit.Where(a => a.GetString("UserId") == "u2").Select(a => a.GetString("Action")).Order());

        // Retention (3 days at 2026-11-24): Nov 20 is archived and deleted; rollups stay.
        var nov20 = sent.Where(s => s.User != "u2" && s.At < day.AddDays(1)).ToList();
        Assert.NotEmpty(nov20);
        await InvokeAsync(host, "OpsRetention");
        var files = host.Services.GetRequiredService<IArchiveStore>();
        var archive = await files.ReadAsync("archive/acme/2026/11/20.jsonl.gz");
        Assert.NotNull(archive);
        var archived = EventArchive.Read(archive);
        Assert.Equal(nov20.Select(s => s.EventId).Order(), archived.Select(a => a.EventId).Order());
        Assert.Null(await files.ReadAsync("archive/acme/2026/11/21.jsonl.gz"));
        var remaining = TestStorage.Table(host, "usageevents").Query<TableEntity>(e => e.PartitionKey.CompareTo("acme|u1|20261120") == 0 || e.PartitionKey.CompareTo("acme|u3|20261120") == 0).ToList();
        Assert.Empty(remaining);
        Assert.Equal(nov20.GroupBy(s => s.User).ToDictionary(g => g.Key, g => g.Sum(s => s.Cost)).OrderBy(kv => kv.Key),
            (await UserDayCostsAsync(host, "2026-11-20")).OrderBy(kv => kv.Key));
        _ = GZipStream.Null;
        _ = host.Services.GetRequiredService<LlmCostStorage>();
    }
}
