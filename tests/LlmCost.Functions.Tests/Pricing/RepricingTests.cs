using System.Net.Http.Json;
using System.Text.Json;
using LlmCost.Core.Audit;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Rollups;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Storage.Recording;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace LlmCost.Functions.Tests.Pricing;

/// <summary>
/// Re-pricing a month of a tenant after its prices changed gives the same event costs, day summaries, team/tenant
/// rows and rollups as recording the same events fresh under the new prices (another tenant, same policy), also
/// when the apply is interrupted halfway and run again; a rerun changes nothing.
/// </summary>
public sealed class RepricingTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int EventCount = 2000;
    private static readonly DateTimeOffset Now = new(2025, 4, 2, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static readonly object Policy = new
    {
        discount_percent = 20,
        models = new object[] { new { model = "gpt-4o-mini", prices = new { input_mtok = 0.1, output_mtok = 0.5 } } },
        effective_from = "2025-03-01T00:00:00Z",
    };

    /// <summary>A seeded month of traffic: 20 users in two teams, two models, every day of March.</summary>
    private static List<object> Month(string tenant)
    {
        var random = new Random(42);
        var events = new List<object>(EventCount);
        for (int i = 0; i < EventCount; i++)
        {
            int user = random.Next(20);
            var at = new DateTimeOffset(2025, 3, 1 + random.Next(31), random.Next(24), random.Next(60), 0, TimeSpan.Zero);
            events.Add(new
            {
                event_id = $"ev{i:D5}", tenant_id = tenant, user_id = $"u{user}", team_id = user % 2 == 0 ? "red" : "blue",
                provider = "openai", model = random.Next(3) == 0 ? "gpt-4o" : "gpt-4o-mini", timestamp = at.ToString("O"),
                usage = new { input_tokens = random.Next(10, 20_000), output_tokens = random.Next(1, 4_000) },
            });
        }

        return events;
    }

    private async Task RecordAsync(string tenant)
    {
        foreach (object[] batch in Month(tenant).Chunk(500))
        {
            (int status, JsonElement body) = await _host.Client.PostAsync("api/usage", new { events = batch });
            Assert.Equal(200, status);
            Assert.Equal(batch.Length, body.GetProperty("recorded").GetInt32());
        }

        // Reads wait for this instance's projector only up to the read barrier's 5 s; on a box at load 40 the month
        // can take longer to project, and rollups computed before it landed would be the reference's, too low.
        Assert.True(await _host.Services.GetRequiredService<UsageProjectionTracker>().WaitForAppliedAsync(TimeSpan.FromMinutes(5)),
            $"{tenant}'s events were not projected within 5 minutes");
    }

    private async Task PutPolicyAsync(string tenant)
    {
        using HttpResponseMessage response = await _host.Client.PutAsJsonAsync(new Uri($"api/pricing/policies/{tenant}", UriKind.Relative), Policy);
        Assert.Equal(200, (int)response.StatusCode);
    }

    private async Task<(int Status, JsonElement Body)> RepriceAsync(string tenant, bool dryRun)
    {
        // A month of a tenant in one request: minutes, not seconds, on a machine as loaded as a CI runner.
        using HttpClient client = _host.CreateClient(LlmCostTestHost.AdminKey);
        client.Timeout = TimeSpan.FromMinutes(10);
        return await client.PostAsync("api/repricing", new { tenant_id = tenant, period = "2025-03", dry_run = dryRun });
    }

    /// <summary>Every view of a tenant's March, with the tenant's name taken out so two tenants compare equal.</summary>
    private async Task<string> ViewsAsync(string tenant)
    {
        var parts = new List<string>();
        foreach (string path in new[]
        {
            $"api/tenants/{tenant}/usage?from=2025-03-01&to=2025-04-01&granularity=day&group_by=model",
            $"api/tenants/{tenant}/usage?from=2025-03-01&to=2025-04-01&granularity=hour",
            $"api/teams/red/usage?tenant_id={tenant}&from=2025-03-01&to=2025-04-01&granularity=day&group_by=model",
            $"api/teams/blue/usage?tenant_id={tenant}&from=2025-03-01&to=2025-04-01&granularity=day",
            $"api/users/u3/usage?tenant_id={tenant}&from=2025-03-01&to=2025-04-01&granularity=hour&group_by=model",
            $"api/rollups?tenant_id={tenant}&granularity=day&from=2025-03-01&to=2025-03-31",
            $"api/rollups?tenant_id={tenant}&granularity=month&from=2025-03-01&to=2025-03-31",
            $"api/rollups?tenant_id={tenant}&granularity=hour&from=2025-03-10&to=2025-03-12",
        })
        {
            (int status, JsonElement body) = await _host.Client.GetJsonAsync(path);
            Assert.Equal(200, status);
            parts.Add(body.ToString().Replace(tenant, "T", StringComparison.Ordinal));
        }

        // Every stored event's pricing and every day summary.
        var reader = _host.Services.GetRequiredService<IUsageEventReader>();
        var summaries = _host.Services.GetRequiredService<IUsageSummaryReader>();
        for (DateOnly day = new(2025, 3, 1); day <= new DateOnly(2025, 3, 31); day = day.AddDays(1))
        {
            foreach (string user in (await reader.ListUsersAsync(tenant, day)).Order(StringComparer.Ordinal))
            {
                DaySummary? summary = await summaries.ReadDaySummaryAsync(tenant, user, day);
                parts.Add($"{user} {day} {summary!.Totals.CostUsd} {summary.Totals.Events}");
                await foreach (UsageEvent e in reader.ReadUserDaysAsync(tenant, user, day, day))
                {
                    parts.Add($"{e.EventId} {e.CostUsd} {e.ListCostUsd} {e.PolicyVersion} {e.CatalogVersion} {e.PriceSource?.Replace(tenant, "T", StringComparison.Ordinal)}");
                }
            }
        }

        return string.Join("\n", parts);
    }

    private async Task RollupsAsync(string tenant)
    {
        var rollups = _host.Services.GetRequiredService<RollupRunner>();
        for (DateOnly day = new(2025, 3, 1); day <= new DateOnly(2025, 3, 31); day = day.AddDays(1))
        {
            await rollups.RecomputeDayAsync(tenant, day);
        }

        await rollups.RecomputeMonthAsync(tenant, new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public async Task RepricingAMonthEqualsPricingItFreshAlsoAfterACrashHalfway()
    {
        // Recorded at list prices, then the prices change (a policy effective from the start of the month).
        await RecordAsync("old1");
        await RecordAsync("old2");
        await RollupsAsync("old1");
        await RollupsAsync("old2");
        foreach (string tenant in new[] { "old1", "old2", "fresh" })
        {
            await PutPolicyAsync(tenant);
        }

        await RecordAsync("fresh");
        await RollupsAsync("fresh");
        string fresh = await ViewsAsync("fresh");
        (_, JsonElement freshTotal) = await _host.Client.GetJsonAsync("api/tenants/fresh/usage?from=2025-03-01&to=2025-04-01");

        // Dry run: the diff per model, nothing written.
        string before = await ViewsAsync("old1");
        (int dryStatus, JsonElement dry) = await RepriceAsync("old1", dryRun: true);
        Assert.Equal(200, dryStatus);
        Assert.Equal(EventCount, dry.GetProperty("events").GetInt64());
        Assert.Equal(EventCount, dry.GetProperty("changed").GetInt64());
        Assert.Equal(freshTotal.GetProperty("total").Money("cost_usd"), dry.Money("new_cost_usd"));
        Assert.True(dry.Money("old_cost_usd") > dry.Money("new_cost_usd"));
        Assert.Equal(2, dry.GetProperty("models").GetArrayLength());
        Assert.Equal(before, await ViewsAsync("old1"));

        // Apply: every view equals the fresh tenant's.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        (int applyStatus, JsonElement applied) = await RepriceAsync("old1", dryRun: false);
        output.WriteLine($"repriced {EventCount} events ({applied.GetProperty("partitions_rewritten")} partitions) in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(200, applyStatus);
        Assert.Equal(fresh, await ViewsAsync("old1"));

        // A rerun is a no-op: the same job, every partition already done, nothing changes.
        (_, JsonElement rerun) = await RepriceAsync("old1", dryRun: false);
        Assert.Equal(0, rerun.GetProperty("changed").GetInt64());
        Assert.Equal(fresh, await ViewsAsync("old1"));

        // Killed halfway: the apply dies inside a partition, between two of its transactions.
        var service = _host.Services.GetRequiredService<RepricingService>();
        var crashing = new RepricingService(
            _host.Services.GetRequiredService<IUsageEventReader>(),
            new CrashingStore(_host.Services.GetRequiredService<IUsageRepricingStore>(), crashAfterEvents: EventCount / 2),
            _host.Services.GetRequiredService<TenantPolicyCache>(),
            _host.Services.GetRequiredService<ICatalogStore>(),
            TimeProvider.System);
        await Assert.ThrowsAsync<IOException>(() => crashing.RunAsync(new RepricingRequest("old2", new DateOnly(2025, 3, 1), new DateOnly(2025, 3, 31), DryRun: false), "test"));
        string half = await ViewsAsync("old2");
        Assert.NotEqual(fresh, half);

        (_, JsonElement resumed) = await RepriceAsync("old2", dryRun: false);
        Assert.True(resumed.GetProperty("changed").GetInt64() is > 0 and < EventCount);
        Assert.Equal(fresh, await ViewsAsync("old2"));

        (_, JsonElement audit) = await _host.Client.GetJsonAsync("api/audit?tenant_id=old1");
        Assert.Contains(audit.GetProperty("entries").EnumerateArray(), e => e.GetProperty("action").GetString() == "repricing.apply");
    }

    [Theory]
    [InlineData("{\"period\": \"2025-03\"}", "tenant_id")]
    [InlineData("{\"tenant_id\": \"x\", \"period\": \"2025-13\"}", "period")]
    [InlineData("{\"tenant_id\": \"x\", \"from\": \"2025-03-02\", \"to\": \"2025-03-01\"}", "to")]
    [InlineData("{\"tenant_id\": \"x\", \"from\": \"2025-01-01\", \"to\": \"2025-12-31\"}", "to")]
    [InlineData("{\"tenant_id\": \"x\", \"period\": \"2025-03\", \"dry_run\": \"no\"}", "dry_run")]
    [InlineData("{\"tenant_id\": \"x\", \"period\": \"2025-03\", \"catalog_version\": \"nope\"}", "catalog_version")]
    [InlineData("{\"tenant_id\": \"x\", \"period\": \"2025-03\", \"extra\": 1}", "extra")]
    public async Task ABadRequestIsA400NamingTheField(string json, string field)
    {
        (int status, JsonElement problem) = await _host.Client.PostRawAsync("api/repricing", json);
        Assert.Equal(400, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    /// <summary>The real store, dying (like a killed process) after a number of events were repriced.</summary>
    private sealed class CrashingStore(IUsageRepricingStore inner, int crashAfterEvents) : IUsageRepricingStore
    {
        private int _priced;

        public Task<PartitionRewrite> RewriteAsync(UserDay partition, Func<UsageEvent, UsageEvent> reprice, CancellationToken cancellationToken = default) =>
            inner.RewriteAsync(partition, e => Interlocked.Increment(ref _priced) > crashAfterEvents * 2 ? throw new IOException("killed") : reprice(e), cancellationToken);

        public Task<bool> IsDoneAsync(string jobId, UserDay partition, CancellationToken cancellationToken = default) => inner.IsDoneAsync(jobId, partition, cancellationToken);

        public Task MarkDoneAsync(string jobId, UserDay partition, IReadOnlyList<RepricingIntent> handedOn, CancellationToken cancellationToken = default) =>
            inner.MarkDoneAsync(jobId, partition, handedOn, cancellationToken);
    }
}
