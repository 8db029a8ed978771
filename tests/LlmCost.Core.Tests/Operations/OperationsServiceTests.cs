using LlmCost.Core.Alerts;
using LlmCost.Core.Audit;
using LlmCost.Core.Anomalies;
using LlmCost.Core.Forecasting;
using LlmCost.Core.Recording;
using LlmCost.Core.Reports;
using LlmCost.Core.Retention;
using LlmCost.Core.Rollups;
using LlmCost.Core.Usage;
using Microsoft.Extensions.Time.Testing;
using Moq;
using LlmCost.Tests.Shared;

namespace LlmCost.Core.Tests.Operations;

internal sealed class MemoryEvents : IUsageFactSource, IRawEventMaintenance
{
    public List<UsageFact> Facts { get; } = [];

    public List<string> Log { get; } = [];

    public async IAsyncEnumerable<UsageFact> ReadDayAsync(string tenantId, DateOnly day, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        foreach (var f in Facts.Where(f => f.TenantId == tenantId && RollupPeriods.DayOf(f.Timestamp) == day).ToList())
        {
            yield return f;
        }
    }

    public Task<IReadOnlyCollection<TenantDay>> DaysTouchedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyCollection<TenantDay>>([.. Facts.Select(f => new TenantDay(f.TenantId, RollupPeriods.DayOf(f.Timestamp))).Distinct()]);

    public Task<IReadOnlyList<TenantDay>> DaysBeforeAsync(DateOnly cutoff, int max, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<TenantDay>>([.. Facts.Select(f => new TenantDay(f.TenantId, RollupPeriods.DayOf(f.Timestamp))).Distinct().Where(d => d.Day < cutoff).Take(max)]);

    public Task<int> DeleteDayAsync(string tenantId, DateOnly day, CancellationToken cancellationToken = default)
    {
        Log.Add($"delete {tenantId} {day:yyyyMMdd}");
        return Task.FromResult(Facts.RemoveAll(f => f.TenantId == tenantId && RollupPeriods.DayOf(f.Timestamp) == day));
    }

    public async IAsyncEnumerable<UsageEvent> ReadDayEventsAsync(string tenantId, DateOnly day, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        foreach (var f in Facts.Where(f => f.TenantId == tenantId && RollupPeriods.DayOf(f.Timestamp) == day).ToList())
        {
            yield return ToEvent(f);
        }
    }

    public async IAsyncEnumerable<UsageEvent> ReadUserAsync(string tenantId, string userId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        foreach (var f in Facts.Where(f => f.TenantId == tenantId && f.UserId == userId).ToList())
        {
            yield return ToEvent(f);
        }
    }

    /// <summary>The recorded event a fact was read from (the fields a fact does not carry stay at their defaults).</summary>
    public static UsageEvent ToEvent(UsageFact f) => new()
    {
        EventId = f.EventId, TenantId = f.TenantId, UserId = f.UserId, TeamId = f.TeamId, Provider = f.Provider, Model = f.Model,
        Timestamp = f.Timestamp, CostUsd = f.CostUsd, Priced = f.Priced, Status = f.Succeeded ? UsageStatuses.Success : UsageStatuses.Error,
        Usage = new CanonicalUsage { InputTokens = f.InputTokens, OutputTokens = f.OutputTokens },
    };

    public Task<IReadOnlyList<TenantDay>> DeleteUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        var days = Facts.Where(f => f.TenantId == tenantId && f.UserId == userId).Select(f => new TenantDay(tenantId, RollupPeriods.DayOf(f.Timestamp))).Distinct().ToList();
        Facts.RemoveAll(f => f.TenantId == tenantId && f.UserId == userId);
        return Task.FromResult<IReadOnlyList<TenantDay>>(days);
    }
}

internal sealed class MemoryAuditLog : IAuditLog
{
    public List<AuditEntry> Entries { get; } = [];

    public Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        if (!Entries.Any(e => e.AuditId == entry.AuditId))
        {
            Entries.Add(entry);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<AuditEntry>> ListAsync(string tenantId, int max, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<AuditEntry>>([.. Entries.Where(e => e.TenantId == tenantId).OrderByDescending(e => e.At).Take(max)]);
}

internal sealed class MemoryFiles(List<string> log) : IArchiveStore
{
    private readonly Dictionary<string, int> _versions = [];

    public Dictionary<string, byte[]> Files { get; } = [];

    public Task WriteAsync(string path, byte[] content, string contentType, CancellationToken cancellationToken = default)
    {
        log.Add("write " + path);
        Files[path] = content;
        _versions[path] = _versions.GetValueOrDefault(path) + 1;
        return Task.CompletedTask;
    }

    public Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken = default) => Task.FromResult(Files.GetValueOrDefault(path));

    public Task<VersionedFile?> ReadVersionedAsync(string path, CancellationToken cancellationToken = default) =>
        Task.FromResult(Files.TryGetValue(path, out var content) ? new VersionedFile(content, _versions[path].ToString(System.Globalization.CultureInfo.InvariantCulture)) : null);

    public async Task<bool> TryWriteAsync(string path, byte[] content, string contentType, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        var current = Files.ContainsKey(path) ? _versions[path].ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        if (current != expectedVersion)
        {
            return false;
        }

        await WriteAsync(path, content, contentType, cancellationToken);
        return true;
    }

    public Task<IReadOnlyList<StoredFile>> ListAsync(string prefix, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<StoredFile>>([.. Files.Where(f => f.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(f => new StoredFile(f.Key, f.Value.Length, null, null))]);

    public Task<Uri?> TryGetDownloadUriAsync(string path, TimeSpan validFor, CancellationToken cancellationToken = default) => Task.FromResult<Uri?>(null);
}

public sealed class OperationsServiceTests
{
    private static UsageFact Fact(string user, DateTimeOffset at, decimal cost, long tokens = 1000) => new()
    {
        EventId = Guid.NewGuid().ToString("N"), TenantId = "t1", UserId = user, Provider = "openai", Model = "gpt-4o", Timestamp = at,
        CostUsd = cost, InputTokens = tokens, OutputTokens = 0, Units = new CanonicalUsage { InputTokens = tokens, Requests = 0 },
    };

    [Fact]
    public async Task Retention_archives_each_old_day_before_deleting_it_and_keeps_recent_days()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 2, 15, 0, TimeSpan.Zero));
        var events = new MemoryEvents();
        var files = new MemoryFiles(events.Log);
        events.Facts.Add(Fact("a", new DateTimeOffset(2026, 8, 24, 10, 0, 0, TimeSpan.Zero), 1m));
        events.Facts.Add(Fact("b", new DateTimeOffset(2026, 8, 24, 11, 0, 0, TimeSpan.Zero), 2m));
        events.Facts.Add(Fact("a", new DateTimeOffset(2026, 8, 25, 10, 0, 0, TimeSpan.Zero), 3m)); // exactly 90 days: kept
        var old = events.Facts.Take(2).OrderBy(f => f.EventId, StringComparer.Ordinal).ToList();

        var result = await new RetentionRunner(events, files, s => s, new RetentionOptions(), clock).RunAsync();

        Assert.Equal((1, 2), (result.DaysArchived, result.EventsDeleted));
        Assert.Equal(["write archive/t1/2026/08/24.jsonl.gz", "delete t1 20260824"], events.Log);
        Assert.Equal(old, EventArchive.Read(files.Files["archive/t1/2026/08/24.jsonl.gz"]));
        Assert.Single(events.Facts);
    }

    [Fact]
    public async Task Gdpr_delete_removes_the_user_from_rollups_and_audits()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        var events = new MemoryEvents();
        events.Facts.Add(Fact("alice", new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero), 1.25m));
        events.Facts.Add(Fact("bob", new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero), 2m));
        var rollups = new InMemoryRollupStore();
        var files = new MemoryFiles([]);
        var runner = new RollupRunner(new ArchiveAwareFactSource(events, files, s => s), rollups, clock);
        await runner.RunAsync();
        var alerts = new Moq.Mock<IAlertStore>();
        alerts.Setup(a => a.DeleteForUserAsync("t1", "alice", default)).ReturnsAsync(2);
        alerts.Setup(a => a.ListAsync("t1", false, Moq.It.IsAny<int>(), default)).ReturnsAsync([]);
        var log = new MemoryAuditLog();
        var gdpr = new GdprService(events, files, s => s, rollups, runner, new ReportService(rollups, files, s => s, runner, clock), alerts.Object,
            new AuditTrail(log, []), [], clock);

        var export = System.Text.Json.JsonDocument.Parse(await gdpr.ExportAsync("t1", "alice", "key:k1"));
        Assert.Equal(1, export.RootElement.GetProperty("event_count").GetInt32());
        Assert.Equal("1.25", export.RootElement.GetProperty("cost_usd").GetString());

        var deletion = await gdpr.DeleteAsync("t1", "alice", "key:k1");
        Assert.Equal((1, 1, 2), (deletion.RawEventsDeleted, deletion.TenantDaysChanged, deletion.AlertsDeleted));
        var day = await rollups.ReadAsync("t1", RollupGranularity.Day, new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero));
        Assert.DoesNotContain(day, r => r.Key == "alice");
        Assert.Equal(2m, day.Single(r => r.Dimension == "tenant").CostUsd);
        var month = await rollups.ReadAsync("t1", RollupGranularity.Month, new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(2m, month.Single(r => r.Dimension == "tenant").CostUsd);
        Assert.Equal(["gdpr.delete", "gdpr.export"], log.Entries.Where(e => e.IsAbout("alice")).Select(e => e.Action).Order());
        Assert.All(log.Entries, e => Assert.Equal("key:k1", e.Actor));
    }

    [Fact]
    public async Task Scanner_uses_the_same_hour_of_day_and_ignores_a_usual_busy_hour()
    {
        // Alice always spends $5 at 09:00 and $0.10 at 03:00. At 09:00 today $5 is normal; at 03:00 today $5 is a spike.
        var events = new MemoryEvents();
        var today = new DateTimeOffset(2026, 11, 23, 0, 0, 0, TimeSpan.Zero); // a Monday
        for (var d = 1; d <= 21; d++)
        {
            events.Facts.Add(Fact("alice", today.AddDays(-d).AddHours(9), 5m + (d % 3 * 0.1m)));
            events.Facts.Add(Fact("alice", today.AddDays(-d).AddHours(3), 0.10m));
        }

        var rollups = new InMemoryRollupStore();
        var clock = new FakeTimeProvider(today.AddHours(10).AddMinutes(5));
        events.Facts.Add(Fact("alice", today.AddHours(9).AddMinutes(10), 5m));
        await new RollupRunner(events, rollups, clock).RunAsync();
        var scanner = new AnomalyScanner(rollups, new AnomalyDetector(new AnomalyOptions(), clock), clock);
        Assert.DoesNotContain(await scanner.ScanTenantAsync("t1"), a => a.Kind == AlertKinds.CostAnomaly && a.Details["window"].StartsWith('h'));

        var night = new FakeTimeProvider(today.AddHours(4).AddMinutes(5));
        events.Facts.RemoveAll(f => f.Timestamp >= today);
        events.Facts.Add(Fact("alice", today.AddHours(3).AddMinutes(10), 5m));
        var nightRollups = new InMemoryRollupStore();
        await new RollupRunner(events, nightRollups, night).RunAsync();
        var alerts = await new AnomalyScanner(nightRollups, new AnomalyDetector(new AnomalyOptions(), night), night).ScanTenantAsync("t1");
        Assert.Contains(alerts, a => a.Kind == AlertKinds.CostAnomaly && a.ScopeId == "alice" && a.Details["window"] == "h2026112303");
    }

    [Fact]
    public async Task Scanner_reports_unpriced_models_and_provider_error_spikes()
    {
        var events = new MemoryEvents();
        var today = new DateTimeOffset(2026, 11, 23, 0, 0, 0, TimeSpan.Zero);
        for (var d = 1; d <= 10; d++)
        {
            for (var i = 0; i < 40; i++)
            {
                events.Facts.Add(Fact("u", today.AddDays(-d).AddHours(5).AddMinutes(i), 0.01m) with { Succeeded = i != 0 });
            }
        }

        for (var i = 0; i < 40; i++)
        {
            events.Facts.Add(Fact("u", today.AddHours(5).AddMinutes(i), 0.01m) with { Succeeded = i % 2 == 0 });
        }

        events.Facts.Add(Fact("u", today.AddHours(5), 0m) with { Model = "secret-model", Priced = false });
        var clock = new FakeTimeProvider(today.AddHours(6).AddMinutes(2));
        var rollups = new InMemoryRollupStore();
        await new RollupRunner(events, rollups, clock).RunAsync();
        var alerts = await new AnomalyScanner(rollups, new AnomalyDetector(new AnomalyOptions(), clock), clock).ScanTenantAsync("t1");

        var unpriced = Assert.Single(alerts, a => a.Kind == AlertKinds.UnpricedModel);
        Assert.Equal(("openai/secret-model", "1"), (unpriced.Details["model"], unpriced.Details["unpriced_requests"]));
        var errors = Assert.Single(alerts, a => a.Kind == AlertKinds.ErrorRateSpike);
        Assert.Equal(("openai", "20", "41"), (errors.Details["provider"], errors.Details["errors"], errors.Details["requests"]));
    }

    [Fact]
    public void Projection_alert_fires_once_per_budget_period_when_the_forecast_exceeds_the_limit()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 15, 0, 0, 0, TimeSpan.Zero));
        var alerter = new ProjectionAlerter(new SpendForecaster(clock), clock);
        BudgetForecastInput Budget(decimal limit) => new()
        {
            TenantId = "t1", BudgetId = "b1", Scope = "team", ScopeId = "red", Limit = limit,
            Request = new ForecastRequest
            {
                PeriodStart = new DateOnly(2026, 11, 1), PeriodEnd = new DateOnly(2026, 12, 1),
                History = [.. Enumerable.Range(0, 28).Select(i => new DailySpend(new DateOnly(2026, 10, 18).AddDays(i), 10m))],
            },
        };
        // $10/day: 140 spent by Nov 14, 300 projected.
        var alert = alerter.Evaluate(Budget(250m));
        Assert.NotNull(alert);
        Assert.Equal(AlertKinds.BudgetProjectedOverrun, alert.Kind);
        Assert.Equal("300", alert.Details["projected_usd"]);
        Assert.Equal(alert.AlertId, alerter.Evaluate(Budget(250m))!.AlertId);
        Assert.Null(alerter.Evaluate(Budget(350m)));
        Assert.Null(alerter.Evaluate(Budget(100m))); // already exhausted: the threshold alerts speak
    }
}
