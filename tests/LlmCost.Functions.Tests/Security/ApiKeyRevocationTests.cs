using Azure.Data.Tables;
using LlmCost.Core.Audit;
using LlmCost.Core.Recording;
using LlmCost.Functions.Hosting.Auth;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Storage;
using LlmCost.Storage.Keys;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Tests.Security;

/// <summary>
/// Key verification against the real key table on Azurite: revocation beats a re-read already in flight, other
/// instances follow within the refresh time, and guessing key ids costs no storage read at all (an unknown id and
/// a known id with a wrong secret do the same work).
/// </summary>
public sealed class ApiKeyRevocationTests : IAsyncLifetime
{
    private TableApiKeyStore _table = null!;
    private LlmCostStorage _storage = null!;

    public async Task InitializeAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = LlmCostTestHost.StorageConnectionString,
        }).Build();
        var prefix = "k" + Guid.NewGuid().ToString("N")[..12];
        _storage = new LlmCostStorage(configuration, new StorageNames(Options.Create(new LlmCostStorageOptions { Prefix = prefix })));
        await _storage.Table(TableApiKeyStore.TableName).CreateIfNotExistsAsync();
        _table = new TableApiKeyStore(_storage);
    }

    public async Task DisposeAsync() => await _storage.Table(TableApiKeyStore.TableName).DeleteAsync();

    private static ApiKeyService Service(IApiKeyStore store, TimeSpan refresh) =>
        new(store, TimeProvider.System, new LlmCostAuthOptions { KeyCacheDuration = refresh });

    [Fact]
    public async Task ARevocationBeatsAReadThatStartedBeforeIt()
    {
        var gated = new GatedStore(_table);
        var keys = Service(gated, TimeSpan.FromHours(1));
        var (record, plain) = await Service(_table, TimeSpan.FromHours(1)).CreateAsync("reader", "acme", null, null, "test");

        // The first verification reads the key (it exists), and is held right after that read.
        gated.Hold();
        var inFlight = keys.VerifyAsync(plain);
        await gated.ReadStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(await keys.DeleteAsync(record.KeyId, "test"));
        gated.Release();
        await inFlight;

        // The read finished after the revocation: whatever it saw, the key must not be trusted again.
        Assert.Null(await keys.VerifyAsync(plain));
    }

    [Fact]
    public async Task AnotherInstanceStopsTrustingARevokedKeyWithinTheRefreshTime()
    {
        var a = Service(_table, TimeSpan.FromMilliseconds(200));
        var b = Service(_table, TimeSpan.FromMilliseconds(200));
        var (record, plain) = await a.CreateAsync("ingest", "acme", null, null, "test");
        Assert.NotNull(await a.VerifyAsync(plain));
        await WaitUntilAsync(async () => await b.VerifyAsync(plain) is not null); // a new key reaches other instances too
        Assert.True(await a.DeleteAsync(record.KeyId, "test"));
        Assert.Null(await a.VerifyAsync(plain)); // at once where it was revoked
        await WaitUntilAsync(async () => await b.VerifyAsync(plain) is null);
    }

    [Fact]
    public async Task GuessedKeyIdsCostNoStorageReadAndDoTheSameWorkAsAWrongSecret()
    {
        var counting = new GatedStore(_table);
        var keys = Service(counting, TimeSpan.FromHours(1));
        var (record, plain) = await keys.CreateAsync("reader", "acme", null, null, "test");
        Assert.NotNull(await keys.VerifyAsync(plain));
        var readsAfterFirstLoad = counting.Reads;

        for (var i = 0; i < 200; i++)
        {
            Assert.Null(await keys.VerifyAsync($"{ApiKeyService.KeyPrefix}{Guid.NewGuid():N}_{Guid.NewGuid():N}"));
            Assert.Null(await keys.VerifyAsync($"{ApiKeyService.KeyPrefix}{record.KeyId}_wrong-{i}"));
            Assert.Null(await keys.VerifyAsync($"{ApiKeyService.KeyPrefix}_{i}"));
        }

        Assert.Equal(readsAfterFirstLoad, counting.Reads);
        Assert.Equal(1, readsAfterFirstLoad);
    }

    [Fact]
    public async Task CreatingAndRevokingAKeyWritesItsAuditLineAtomically()
    {
        var keys = Service(_table, TimeSpan.FromHours(1));
        var (record, _) = await keys.CreateAsync("reader", "acme", "alice", "dashboard", "key:admin1");
        await keys.DeleteAsync(record.KeyId, "key:admin1");
        var pending = await _table.PendingAsync("acme", 10);
        Assert.Equal(["key.create", "key.revoke"], pending.OrderBy(p => p.At).ThenBy(p => p.Action).Select(p => p.Action));
        Assert.All(pending, p => Assert.Equal(("alice", "key:admin1", record.KeyId), (p.UserId, p.Actor, p.TargetId)));
        // The pending lines are not keys.
        Assert.Empty(await _table.ListAsync(null));
        var entity = _storage.Table(TableApiKeyStore.TableName).Query<TableEntity>().ToList();
        Assert.Equal(2, entity.Count);
    }

    [Fact]
    public async Task ARefreshThatCompletesSynchronouslyDoesNotStopLaterRefreshes()
    {
        // A loaded machine can finish a whole storage read before its first await yields; this store always does.
        var store = new SynchronousStore();
        var keys = Service(store, TimeSpan.FromMilliseconds(50));
        Assert.Null(await keys.VerifyAsync($"{ApiKeyService.KeyPrefix}0011223344556677_x"));
        var (plain, record) = SynchronousStore.NewKey();
        store.Keys.Add(record); // created by another instance
        await WaitUntilAsync(async () => await keys.VerifyAsync(plain) is not null);
        store.Keys.Clear(); // revoked by another instance
        await WaitUntilAsync(async () => await keys.VerifyAsync(plain) is null);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 30 s");
            await Task.Delay(50);
        }
    }

    /// <summary>A key store whose reads complete synchronously.</summary>
    private sealed class SynchronousStore : IApiKeyStore
    {
        public List<ApiKeyRecord> Keys { get; } = [];

        public static (string Plain, ApiKeyRecord Record) NewKey()
        {
            var plain = $"{ApiKeyService.KeyPrefix}aabbccddeeff0011_secret";
            return (plain, new ApiKeyRecord
            {
                KeyId = "aabbccddeeff0011", Role = "reader", TenantId = "acme", CreatedAt = DateTimeOffset.UnixEpoch,
                SecretHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(plain))),
            });
        }

        public Task<ApiKeyRecord?> FindAsync(string keyId, CancellationToken cancellationToken = default) => Task.FromResult(Keys.FirstOrDefault(k => k.KeyId == keyId));

        public Task<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenantId, CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<ApiKeyRecord>>([.. Keys]);

        public Task<bool> AddAsync(ApiKeyRecord key, AuditEntry audit, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<bool> DeleteAsync(string keyId, AuditEntry audit, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }

    /// <summary>The real store, counting reads; <see cref="Hold"/> holds the next read right after it got its answer.</summary>
    private sealed class GatedStore(IApiKeyStore inner) : IApiKeyStore
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource? _next;
        private int _reads;

        public TaskCompletionSource ReadStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Reads => Volatile.Read(ref _reads);

        public void Hold() => _next = _release;

        public void Release() => _release.TrySetResult();

        public async Task<ApiKeyRecord?> FindAsync(string keyId, CancellationToken cancellationToken = default)
        {
            var found = await inner.FindAsync(keyId, cancellationToken);
            await AfterReadAsync();
            return found;
        }

        public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenantId, CancellationToken cancellationToken = default)
        {
            var all = await inner.ListAsync(tenantId, cancellationToken);
            await AfterReadAsync();
            return all;
        }

        public Task<bool> AddAsync(ApiKeyRecord key, AuditEntry audit, CancellationToken cancellationToken = default) => inner.AddAsync(key, audit, cancellationToken);

        public Task<bool> DeleteAsync(string keyId, AuditEntry audit, CancellationToken cancellationToken = default) => inner.DeleteAsync(keyId, audit, cancellationToken);

        private async Task AfterReadAsync()
        {
            Interlocked.Increment(ref _reads);
            if (Interlocked.Exchange(ref _next, null) is { } gate)
            {
                ReadStarted.TrySetResult();
                await gate.Task;
            }
        }
    }
}
