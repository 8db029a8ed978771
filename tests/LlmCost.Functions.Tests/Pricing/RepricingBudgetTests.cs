using System.Net.Http.Json;
using System.Text.Json;
using LlmCost.Core.Budgets;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Pricing;

/// <summary>
/// After a re-pricing, the spent figure of every open budget period of the tenant equals the repriced events'
/// total to the last digit (tenant, team and user budgets), also when the apply died halfway through a partition
/// or between correcting the budgets and its checkpoint; closed periods keep what they closed with; a rerun
/// changes nothing.
/// </summary>
public sealed class RepricingBudgetTests : IAsyncLifetime
{
    private const string Tenant = "rb";
    private static readonly DateTimeOffset Now = new(2025, 4, 2, 12, 0, 0, TimeSpan.Zero);
    private LlmCostTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    /// <summary>
    /// March 29 to April 2 (before now), ten users in two teams; u0 is busy on April 2 (more events than one
    /// rewrite transaction holds, so a crash can fall between two transactions of its partition).
    /// </summary>
    private static List<object> Traffic()
    {
        var random = new Random(7);
        var events = new List<object>();
        for (int i = 0; i < 700; i++)
        {
            int user = i < 150 ? 0 : random.Next(10);
            DateTimeOffset at = i < 150
                ? new DateTimeOffset(2025, 4, 2, random.Next(12), random.Next(60), 0, TimeSpan.Zero)
                : new DateTimeOffset(2025, 3, 29, 0, 0, 0, TimeSpan.Zero).AddMinutes(random.Next((int)(Now - new DateTimeOffset(2025, 3, 29, 0, 0, 0, TimeSpan.Zero)).TotalMinutes));
            events.Add(new
            {
                event_id = $"rb{i:D4}", tenant_id = Tenant, user_id = $"u{user}", team_id = user % 2 == 0 ? "red" : "blue",
                provider = "openai", model = random.Next(3) == 0 ? "gpt-4o" : "gpt-4o-mini", timestamp = at.ToString("O"),
                usage = new { input_tokens = random.Next(10, 20_000), output_tokens = random.Next(1, 4_000) },
            });
        }

        return events;
    }

    private async Task<string> CreateBudgetAsync(object body)
    {
        (int status, JsonElement created) = await _host.Client.PostAsync("api/budgets", body);
        Assert.Equal(201, status);
        return created.GetProperty("budget_id").GetString()!;
    }

    private async Task<decimal> UsageAsync(string path)
    {
        (int status, JsonElement body) = await _host.Client.GetJsonAsync(path);
        Assert.Equal(200, status);
        return body.GetProperty("total").Money("cost_usd");
    }

    private async Task<JsonElement> StatusAsync(string budgetId)
    {
        (int status, JsonElement body) = await _host.Client.GetJsonAsync($"api/budgets/{budgetId}/status");
        Assert.Equal(200, status);
        return body;
    }

    /// <summary>The spent figure of each budget's open period next to what the usage views say it should be.</summary>
    private async Task<List<(decimal Spent, decimal Expected, long Events)>> CompareAsync(string tenantBudget, string teamBudget, string userBudget)
    {
        var result = new List<(decimal, decimal, long)>();
        foreach ((string id, string path) in new[]
        {
            (tenantBudget, $"api/tenants/{Tenant}/usage?from=2025-04-01&to=2025-04-03"),
            (teamBudget, $"api/teams/red/usage?tenant_id={Tenant}&from=2025-04-01&to=2025-04-03"),
            (userBudget, $"api/users/u0/usage?tenant_id={Tenant}&from=2025-04-02&to=2025-04-03"),
        })
        {
            JsonElement status = await StatusAsync(id);
            result.Add((status.Money("spent_usd"), await UsageAsync(path), status.GetProperty("event_count").GetInt64()));
        }

        return result;
    }

    /// <summary>The closed March period of the tenant budget, read from the ledger.</summary>
    private async Task<decimal> MarchSpentAsync(string tenantBudget)
    {
        BudgetDefinition budget = (await _host.Services.GetRequiredService<BudgetService>().GetAsync(tenantBudget))!;
        PeriodWindow march = BudgetPeriodCalculator.WindowFor(budget, new DateTimeOffset(2025, 3, 30, 0, 0, 0, TimeSpan.Zero))!.Value;
        string key = BudgetKeys.State(budget.BudgetId, budget.SubjectFor("u0"), march.Key);
        LedgerPartition rows = await _host.Services.GetRequiredService<IBudgetLedger>().ReadAsync(Tenant, [key]);
        return rows.States[key].SpentUsd;
    }

    private async Task<(int Status, JsonElement Body)> RepriceAsync()
    {
        using HttpClient client = _host.CreateClient(LlmCostTestHost.AdminKey);
        client.Timeout = TimeSpan.FromMinutes(10);
        return await client.PostAsync("api/repricing", new { tenant_id = Tenant, from = "2025-03-29", to = "2025-04-02", dry_run = false });
    }

    private RepricingService ServiceWith(IUsageRepricingStore store) => new(
        _host.Services.GetRequiredService<IUsageEventReader>(),
        store,
        _host.Services.GetRequiredService<TenantPolicyCache>(),
        _host.Services.GetRequiredService<ICatalogStore>(),
        TimeProvider.System,
        observer: _host.Services.GetRequiredService<IRepricingObserver>());

    private static RepricingRequest Request => new(Tenant, new DateOnly(2025, 3, 29), new DateOnly(2025, 4, 2), DryRun: false);

    [Fact]
    public async Task OpenBudgetPeriodsSpendTheRepricedTotalAfterCrashesAndReruns()
    {
        string tenantBudget = await CreateBudgetAsync(new { tenant_id = Tenant, scope = "tenant", amount_usd = "100000", period = "monthly", mode = "hard" });
        string teamBudget = await CreateBudgetAsync(new { tenant_id = Tenant, scope = "team", scope_id = "red", amount_usd = "100000", period = "monthly", mode = "soft" });
        string userBudget = await CreateBudgetAsync(new { tenant_id = Tenant, scope = "user", scope_id = "u0", amount_usd = "100000", period = "daily", mode = "hard" });
        List<object> traffic = Traffic();
        foreach (object[] batch in traffic.Chunk(350))
        {
            (int status, _) = await _host.Client.PostAsync("api/usage", new { events = batch });
            Assert.Equal(200, status);
        }

        // Budgets count recorded events off the request: wait until every figure is in.
        List<(decimal Spent, decimal Expected, long Events)> before = [];
        for (int attempt = 0; attempt < 300; attempt++)
        {
            before = await CompareAsync(tenantBudget, teamBudget, userBudget);
            if (before.All(b => b.Spent == b.Expected))
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.All(before, b => Assert.Equal(b.Expected, b.Spent));
        decimal marchBefore = await MarchSpentAsync(tenantBudget);
        Assert.True(marchBefore > 0m);

        // Half price from March on: every event of the period changes.
        using (HttpResponseMessage put = await _host.Client.PutAsJsonAsync(
            new Uri($"api/pricing/policies/{Tenant}", UriKind.Relative), new { discount_percent = 50, effective_from = "2025-03-01T00:00:00Z" }))
        {
            Assert.Equal(200, (int)put.StatusCode);
        }

        var inner = _host.Services.GetRequiredService<IUsageRepricingStore>();

        // Killed inside u0's busy partition, between two of its rewrite transactions.
        await Assert.ThrowsAsync<IOException>(() => ServiceWith(new CrashingStore(inner, crashAfterEvents: 100)).RunAsync(Request, "test"));

        // Killed after the budgets were corrected for a partition, before its checkpoint.
        await Assert.ThrowsAsync<IOException>(() => ServiceWith(new CheckpointCrashStore(inner)).RunAsync(Request, "test"));

        (int applyStatus, JsonElement applied) = await RepriceAsync();
        Assert.Equal(200, applyStatus);
        Assert.True(applied.GetProperty("changed").GetInt64() > 0);
        List<(decimal Spent, decimal Expected, long Events)> after = await CompareAsync(tenantBudget, teamBudget, userBudget);
        for (int i = 0; i < after.Count; i++)
        {
            Assert.Equal(after[i].Expected, after[i].Spent);
            Assert.True(after[i].Spent < before[i].Spent, $"budget {i}: {after[i].Spent} not below {before[i].Spent}");
            Assert.Equal(before[i].Events, after[i].Events);
        }

        Assert.Equal(marchBefore, await MarchSpentAsync(tenantBudget));

        // A rerun: nothing to rewrite, nothing applied twice.
        (_, JsonElement rerun) = await RepriceAsync();
        Assert.Equal(0, rerun.GetProperty("changed").GetInt64());
        Assert.Equal(after, await CompareAsync(tenantBudget, teamBudget, userBudget));
        Assert.Equal(marchBefore, await MarchSpentAsync(tenantBudget));
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

    /// <summary>The real store, dying at the first checkpoint that follows budget corrections (intents handed on).</summary>
    private sealed class CheckpointCrashStore(IUsageRepricingStore inner) : IUsageRepricingStore
    {
        public Task<PartitionRewrite> RewriteAsync(UserDay partition, Func<UsageEvent, UsageEvent> reprice, CancellationToken cancellationToken = default) =>
            inner.RewriteAsync(partition, reprice, cancellationToken);

        public Task<bool> IsDoneAsync(string jobId, UserDay partition, CancellationToken cancellationToken = default) => inner.IsDoneAsync(jobId, partition, cancellationToken);

        public Task MarkDoneAsync(string jobId, UserDay partition, IReadOnlyList<RepricingIntent> handedOn, CancellationToken cancellationToken = default) =>
            handedOn.Count > 0 ? throw new IOException("killed") : inner.MarkDoneAsync(jobId, partition, handedOn, cancellationToken);
    }
}
