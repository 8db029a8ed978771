using Azure;
using Azure.Data.Tables;

namespace LlmCost.Storage;

/// <summary>A value read together with the ETag that a conditional write must present.</summary>
public readonly record struct Versioned<T>(T Value, ETag ETag);

public enum WriteStatus
{
    Written,

    /// <summary>412 (ETag changed) or 409 (created meanwhile): re-read and decide again.</summary>
    Conflict,
}

public readonly record struct WriteResult(WriteStatus Status, ETag ETag)
{
    public static WriteResult Conflict { get; } = new(WriteStatus.Conflict, default);

    public bool Succeeded => Status == WriteStatus.Written;
}

/// <summary>What an optimistic update decided after looking at the current state.</summary>
public readonly record struct UpdateDecision<TResult>(TableEntity? Write, TResult Result)
{
    /// <summary>Write <paramref name="entity"/> (with the ETag that was read) and return <paramref name="result"/>.</summary>
    public static UpdateDecision<TResult> Save(TableEntity entity, TResult result) => new(entity, result);

    /// <summary>Nothing to write (e.g. a denied request); return <paramref name="result"/>.</summary>
    public static UpdateDecision<TResult> Skip(TResult result) => new(null, result);
}

/// <summary>Thrown when a conditional write lost every one of its bounded attempts: sustained contention, an outage-like condition (503).</summary>
public sealed class StorageContentionException(string message) : Exception(message);

/// <summary>
/// The one optimistic-concurrency helper: read returns (state, ETag); a write presents the ETag and reports
/// <see cref="WriteStatus.Conflict"/> on 412/409 instead of throwing; and the bounded, jittered retry loop
/// lives only in <see cref="RetryAsync{TResult}"/>. Budgets, usage summaries and derived rows all use it.
/// </summary>
public static class OptimisticConcurrency
{
    public const int DefaultMaxAttempts = 12;

    /// <summary>The row and its ETag, or null when it does not exist.</summary>
    public static async Task<Versioned<TableEntity>?> ReadAsync(
        TableClient table, string partitionKey, string rowKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        NullableResponse<TableEntity> response = await table
            .GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.HasValue ? new Versioned<TableEntity>(response.Value!, response.Value!.ETag) : null;
    }

    /// <summary>
    /// Writes <paramref name="entity"/>: with an empty <paramref name="etag"/> it must not exist yet (Add); otherwise
    /// it replaces the row only if its ETag still matches. 409/412 come back as <see cref="WriteStatus.Conflict"/>.
    /// </summary>
    public static async Task<WriteResult> WriteAsync(
        TableClient table, TableEntity entity, ETag etag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(entity);
        try
        {
            Response response = etag == default
                ? await table.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false)
                : await table.UpdateEntityAsync(entity, etag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            return new WriteResult(WriteStatus.Written, response.Headers.ETag ?? default);
        }
        catch (RequestFailedException ex) when (IsConflict(ex))
        {
            return WriteResult.Conflict;
        }
    }

    /// <summary>
    /// Submits one entity-group transaction (checked here: one PartitionKey, each row once, at most 100 actions,
    /// because Azurite does not check the partition). Any 409/412 is a <see cref="WriteStatus.Conflict"/>.
    /// </summary>
    public static async Task<WriteResult> SubmitAsync(
        TableClient table, IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        EnsureValidTransaction(actions);
        try
        {
            await table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            return new WriteResult(WriteStatus.Written, default);
        }
        catch (TableTransactionFailedException ex) when (IsConflict(ex))
        {
            return WriteResult.Conflict;
        }
        catch (RequestFailedException ex) when (IsConflict(ex))
        {
            return WriteResult.Conflict;
        }
    }

    /// <summary>
    /// Like <see cref="SubmitAsync"/>, and returns the new ETag of every written row (in action order; default for
    /// deletes) so a caller can keep what it wrote as its cached version. 404 (a row deleted meanwhile) counts as a
    /// conflict too: the caller re-reads and decides again.
    /// </summary>
    /// <returns>The status, the new ETags, and on a conflict the index of the action that failed (when the service says).</returns>
    public static async Task<(WriteStatus Status, IReadOnlyList<ETag> ETags, int? FailedIndex)> SubmitVersionedAsync(
        TableClient table, IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        EnsureValidTransaction(actions);
        try
        {
            Response<IReadOnlyList<Response>> response = await table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            return (WriteStatus.Written, response.Value.Select(r => r.Headers.ETag ?? default).ToList(), null);
        }
        catch (RequestFailedException ex) when (IsConflict(ex) || ex.Status == 404)
        {
            return (WriteStatus.Conflict, [], (ex as TableTransactionFailedException)?.FailedTransactionActionIndex);
        }
    }

    /// <summary>
    /// Read–decide–write on one row until the write wins: <paramref name="decide"/> sees the current row (or null)
    /// and returns what to write; a conflict re-reads and decides again, at most <paramref name="maxAttempts"/> times.
    /// </summary>
    public static Task<TResult> UpdateAsync<TResult>(
        TableClient table,
        string partitionKey,
        string rowKey,
        Func<Versioned<TableEntity>?, UpdateDecision<TResult>> decide,
        int maxAttempts = DefaultMaxAttempts,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(decide);
        return RetryAsync(async (_, ct) =>
        {
            Versioned<TableEntity>? current = await ReadAsync(table, partitionKey, rowKey, ct).ConfigureAwait(false);
            UpdateDecision<TResult> decision = decide(current);
            if (decision.Write is null)
            {
                return (true, decision.Result);
            }

            decision.Write.PartitionKey = partitionKey;
            decision.Write.RowKey = rowKey;
            WriteResult written = await WriteAsync(table, decision.Write, current?.ETag ?? default, ct).ConfigureAwait(false);
            return (written.Succeeded, decision.Result);
        }, maxAttempts, cancellationToken);
    }

    /// <summary>
    /// The bounded retry loop. <paramref name="attempt"/> returns (done, result); not done means it lost a race
    /// and should run again after a short jittered back-off. Throws <see cref="StorageContentionException"/>
    /// after <paramref name="maxAttempts"/> lost races.
    /// </summary>
    public static async Task<TResult> RetryAsync<TResult>(
        Func<int, CancellationToken, Task<(bool Done, TResult Result)>> attempt,
        int maxAttempts = DefaultMaxAttempts,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        for (int i = 1; ; i++)
        {
            (bool done, TResult result) = await attempt(i, cancellationToken).ConfigureAwait(false);
            if (done)
            {
                return result;
            }

            if (i >= maxAttempts)
            {
                throw new StorageContentionException($"optimistic write still conflicting after {maxAttempts} attempts");
            }

            // Jittered exponential back-off (2, 4, 8 … ms, capped at 200 ms) spreads competing writers apart.
            int ceiling = Math.Min(200, 2 << Math.Min(i, 7));
            await Task.Delay(Random.Shared.Next(ceiling / 2, ceiling + 1), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>409 (exists) or 412 (ETag mismatch).</summary>
    public static bool IsConflict(RequestFailedException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.Status is 409 or 412;
    }

    /// <summary>Throws (a bug) when the actions could not form one entity-group transaction.</summary>
    public static void EnsureValidTransaction(IReadOnlyList<TableTransactionAction> actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        if (actions.Count is 0 or > 100)
        {
            throw new ArgumentException($"a transaction needs 1-100 actions, got {actions.Count}", nameof(actions));
        }

        string partitionKey = actions[0].Entity.PartitionKey;
        var rows = new HashSet<string>(StringComparer.Ordinal);
        foreach (TableTransactionAction action in actions)
        {
            if (!string.Equals(action.Entity.PartitionKey, partitionKey, StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    $"a transaction must stay in one partition ('{partitionKey}' and '{action.Entity.PartitionKey}')", nameof(actions));
            }

            if (!rows.Add(action.Entity.RowKey))
            {
                throw new ArgumentException($"row '{action.Entity.RowKey}' appears twice in one transaction", nameof(actions));
            }
        }
    }
}
