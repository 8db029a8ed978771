using LlmCost.Core.Alerts;
using LlmCost.Core.Retention;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Storage.Tests.Operations;

/// <summary>The alert tables and blob store on real Azurite.</summary>
public sealed class AlertStorageTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Concurrent_claims_of_one_delivery_let_exactly_one_sender_through()
    {
        var log = new TableDeliveryLog(await OpsStorage.CreateAsync());
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => log.TryClaimAsync("t|1", "a-1", "sub/1", Now, TimeSpan.FromMinutes(2))));
        Assert.Equal(1, outcomes.Count(o => o == ClaimOutcome.Claimed));
        Assert.Equal(7, outcomes.Count(o => o == ClaimOutcome.Busy));

        // A failed delivery can be claimed again; a delivered one never.
        await log.CompleteAsync("t|1", "a-1", "sub/1", delivered: false, "HTTP 500", Now);
        Assert.Equal(ClaimOutcome.Claimed, await log.TryClaimAsync("t|1", "a-1", "sub/1", Now, TimeSpan.FromMinutes(2)));
        await log.CompleteAsync("t|1", "a-1", "sub/1", delivered: true, null, Now);
        Assert.Equal(ClaimOutcome.AlreadyDelivered, await log.TryClaimAsync("t|1", "a-1", "sub/1", Now.AddHours(1), TimeSpan.FromMinutes(2)));
        var record = Assert.Single(await log.ListAsync("t|1", "a-1"));
        Assert.Equal((DeliveryStatuses.Delivered, 2), (record.Status, record.Attempts));
    }

    [Fact]
    public async Task A_stale_claim_is_taken_over_after_the_lease()
    {
        var log = new TableDeliveryLog(await OpsStorage.CreateAsync());
        Assert.Equal(ClaimOutcome.Claimed, await log.TryClaimAsync("t1", "a", "s", Now, TimeSpan.FromMinutes(2)));
        Assert.Equal(ClaimOutcome.Busy, await log.TryClaimAsync("t1", "a", "s", Now.AddMinutes(1), TimeSpan.FromMinutes(2)));
        Assert.Equal(ClaimOutcome.Claimed, await log.TryClaimAsync("t1", "a", "s", Now.AddMinutes(3), TimeSpan.FromMinutes(2)));
    }

    [Fact]
    public async Task Alert_store_adds_once_and_round_trips_every_field()
    {
        var store = new TableAlertStore(await OpsStorage.CreateAsync());
        var alert = new Alert
        {
            AlertId = "budget:b1:user/alice:2026-11:80",
            Kind = AlertKinds.BudgetThreshold,
            TenantId = "t1",
            Scope = "user",
            ScopeId = "alice",
            BudgetId = "b1",
            ThresholdPercent = 80.5m,
            CreatedAt = Now,
            Message = "m",
            Details = new Dictionary<string, string> { ["spent_usd"] = "80.50" },
        };
        Assert.True(await store.AddIfAbsentAsync(alert));
        Assert.False(await store.AddIfAbsentAsync(alert with { Message = "changed" }));
        var entry = await store.GetAsync("t1", alert.AlertId);
        Assert.Equal(AlertStatuses.Pending, entry!.Status);
        Assert.Equal(alert.Message, entry.Alert.Message);
        Assert.Equal(alert.ThresholdPercent, entry.Alert.ThresholdPercent);
        Assert.Equal("80.50", entry.Alert.Details["spent_usd"]);
        Assert.Single(await store.ListPendingAsync(10), e => e.Alert.AlertId == alert.AlertId);
        await store.SetStatusAsync("t1", alert.AlertId, AlertStatuses.Queued);
        Assert.Empty(await store.ListPendingAsync(10));
        Assert.True(await store.MarkReadAsync("t1", alert.AlertId, Now));
        Assert.Empty(await store.ListAsync("t1", unreadOnly: true, 10));
        Assert.False(await store.MarkReadAsync("t1", "missing", Now));
        Assert.Equal(1, await store.DeleteForUserAsync("t1", "alice"));
        Assert.Null(await store.GetAsync("t1", alert.AlertId));
    }

    [Fact]
    public async Task Blob_store_writes_lists_and_signs_links()
    {
        // Azurite checks the SAS expiry against the real clock, so this store's clock must be the real time: a
        // fixed date here made the link expire (403) once that date had passed.
        var files = new BlobArchiveStore(await OpsStorage.CreateAsync(), new FakeTimeProvider(DateTimeOffset.UtcNow));
        await files.WriteAsync("reports/t1/2026/11/23/daily.csv", "a,b\n"u8.ToArray(), "text/csv");
        await files.WriteAsync("reports/t2/2026/11/23/daily.csv", "x\n"u8.ToArray(), "text/csv");
        var listed = Assert.Single(await files.ListAsync("reports/t1/"));
        Assert.Equal(("reports/t1/2026/11/23/daily.csv", 4L, "text/csv"), (listed.Path, listed.Size, listed.ContentType));
        Assert.Equal("a,b\n"u8.ToArray(), await files.ReadAsync(listed.Path));
        Assert.Null(await files.ReadAsync("reports/t1/none.csv"));
        // Azurite's development account has a key, so a read-only SAS link can be signed.
        var link = await files.TryGetDownloadUriAsync(listed.Path, TimeSpan.FromMinutes(15));
        Assert.NotNull(link);
        Assert.Contains("sp=r", link.Query, StringComparison.Ordinal);
        using var http = new HttpClient();
        Assert.Equal("a,b\n", await http.GetStringAsync(link));
        _ = EventArchive.PathFor("t1", new DateOnly(2026, 1, 1));
    }
}
