using Azure;
using Azure.Data.Tables;

namespace LlmCost.Storage.Tests;

public sealed class OptimisticConcurrencyTests
{
    [Fact]
    public async Task StaleEtagIsAConflictNotAnException()
    {
        TableClient table = await Azurite.NewTableAsync();
        WriteResult created = await OptimisticConcurrency.WriteAsync(table, new TableEntity("p", "r") { ["N"] = 1 }, default);
        Assert.True(created.Succeeded);

        // Creating again (empty ETag = must not exist) conflicts.
        Assert.Equal(WriteStatus.Conflict, (await OptimisticConcurrency.WriteAsync(table, new TableEntity("p", "r") { ["N"] = 9 }, default)).Status);

        Versioned<TableEntity> read = (await OptimisticConcurrency.ReadAsync(table, "p", "r"))!.Value;
        Assert.True((await OptimisticConcurrency.WriteAsync(table, new TableEntity("p", "r") { ["N"] = 2 }, read.ETag)).Succeeded);
        // The first reader's ETag is now stale.
        Assert.Equal(WriteStatus.Conflict, (await OptimisticConcurrency.WriteAsync(table, new TableEntity("p", "r") { ["N"] = 3 }, read.ETag)).Status);
        Assert.Equal(2, (await table.GetEntityAsync<TableEntity>("p", "r")).Value.GetInt32("N"));
    }

    [Fact]
    public async Task ConcurrentIncrementsThroughUpdateAsyncLoseNothing()
    {
        TableClient table = await Azurite.NewTableAsync();
        const int writers = 20;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => OptimisticConcurrency.UpdateAsync(table, "p", "counter", current =>
        {
            int n = current?.Value.GetInt32("N") ?? 0;
            return UpdateDecision<int>.Save(new TableEntity { ["N"] = n + 1 }, n + 1);
        }, maxAttempts: 100)));

        Assert.Equal(writers, (await table.GetEntityAsync<TableEntity>("p", "counter")).Value.GetInt32("N"));
    }

    [Fact]
    public void TransactionsSpanningPartitionsAreRefusedInCode()
    {
        // Azurite would accept this batch; real Azure would not. The check lives in our code.
        var actions = new List<TableTransactionAction>
        {
            new(TableTransactionActionType.Add, new TableEntity("p1", "a")),
            new(TableTransactionActionType.Add, new TableEntity("p2", "b")),
        };
        Assert.Throws<ArgumentException>(() => OptimisticConcurrency.EnsureValidTransaction(actions));
    }

    [Fact]
    public async Task ATransactionWithAnExistingRowIsAConflictAndWritesNothing()
    {
        TableClient table = await Azurite.NewTableAsync();
        await table.AddEntityAsync(new TableEntity("p", "b"));
        WriteResult result = await OptimisticConcurrency.SubmitAsync(table,
        [
            new(TableTransactionActionType.Add, new TableEntity("p", "a")),
            new(TableTransactionActionType.Add, new TableEntity("p", "b")),
        ]);
        Assert.Equal(WriteStatus.Conflict, result.Status);
        Assert.False((await table.GetEntityIfExistsAsync<TableEntity>("p", "a")).HasValue);
    }
}
