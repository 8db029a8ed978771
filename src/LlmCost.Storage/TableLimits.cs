using Azure.Data.Tables;

namespace LlmCost.Storage;

/// <summary>
/// Table Storage's per-entity limits, checked in code before a write (Azurite does not enforce all of them, Azure
/// does, and a limit hit after an event was acknowledged would strand it).
/// </summary>
/// <remarks>
/// Size by the service's published formula: 4 bytes + 2 × (PartitionKey + RowKey characters) + for each property
/// 8 bytes + 2 × name characters + the value (string: 4 + 2 × characters; binary: 4 + bytes; Int64, double and
/// DateTime 8; Int32 4; Guid 16; bool 1). Measured against Azure, the largest accepted entity is 88 bytes under
/// 1 MiB by this formula, so <see cref="MaxEntityBytes"/> keeps a margin below both.
/// </remarks>
public static class TableLimits
{
    /// <summary>What a write may use of the 1 MiB entity limit (a margin below what Azure was measured to accept).</summary>
    public const int MaxEntityBytes = 1024 * 1024 - 4 * 1024;

    /// <summary>A binary property: at most 64 KiB.</summary>
    public const int MaxBinaryBytes = 64 * 1024;

    /// <summary>A string property: at most 64 KiB of UTF-16, i.e. 32,768 characters.</summary>
    public const int MaxStringChars = 32 * 1024;

    /// <summary>Custom properties per entity (255 minus PartitionKey, RowKey and Timestamp).</summary>
    public const int MaxProperties = 252;

    /// <summary>Actions per entity-group transaction.</summary>
    public const int MaxActions = 100;

    /// <summary>Bytes per entity-group transaction.</summary>
    public const long MaxTransactionBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Throws <see cref="TableLimitException"/> when <paramref name="actions"/> could not be one transaction. Rows
    /// that grow with traffic must never get near the limits by design; this turns a design mistake into a clear
    /// failure instead of a storage 400.
    /// </summary>
    public static void Check(IReadOnlyList<TableTransactionAction> actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        if (actions.Count > MaxActions)
        {
            throw new TableLimitException($"a transaction holds at most {MaxActions} actions, this one {actions.Count}");
        }

        long total = 0;
        foreach (TableTransactionAction action in actions)
        {
            if (action.Entity is not TableEntity entity)
            {
                continue;
            }

            if (Problem(entity) is { } problem)
            {
                throw new TableLimitException($"row '{entity.RowKey}' property {problem.Property}: {problem.Reason}");
            }

            total += EntityBytes(entity) + 512; // the action's own envelope in the batch body
        }

        if (total > MaxTransactionBytes)
        {
            throw new TableLimitException($"a transaction holds at most {MaxTransactionBytes} bytes, this one about {total}");
        }
    }

    /// <summary>The size of <paramref name="entity"/> by the service's formula (see remarks).</summary>
    public static long EntityBytes(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        long size = 4 + 2L * ((entity.PartitionKey?.Length ?? 0) + (entity.RowKey?.Length ?? 0));
        foreach ((string name, object value) in entity)
        {
            if (IsSystem(name))
            {
                continue;
            }

            size += 8 + 2L * name.Length + ValueBytes(value);
        }

        return size;
    }

    /// <summary>
    /// Why <paramref name="entity"/> cannot be stored (too large, a string or binary property over its limit, too
    /// many properties), naming the property; null when it can.
    /// </summary>
    public static (string Property, string Reason)? Problem(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        int properties = 0;
        foreach ((string name, object value) in entity)
        {
            if (IsSystem(name))
            {
                continue;
            }

            properties++;
            switch (value)
            {
                case string text when text.Length > MaxStringChars:
                    return (name, $"{text.Length} characters once stored, at most {MaxStringChars}");
                case byte[] bytes when bytes.Length > MaxBinaryBytes:
                    return (name, $"{bytes.Length} bytes once stored, at most {MaxBinaryBytes}");
                case BinaryData data when data.ToMemory().Length > MaxBinaryBytes:
                    return (name, $"{data.ToMemory().Length} bytes once stored, at most {MaxBinaryBytes}");
            }
        }

        if (properties > MaxProperties)
        {
            return ("*", $"{properties} properties, at most {MaxProperties}");
        }

        long size = EntityBytes(entity);
        return size > MaxEntityBytes ? ("*", $"{size} bytes once stored, at most {MaxEntityBytes}") : null;
    }

    private static bool IsSystem(string name) =>
        name is "PartitionKey" or "RowKey" or "Timestamp" or "odata.etag" or "ETag";

    private static long ValueBytes(object? value) => value switch
    {
        null => 0,
        string text => 4 + 2L * text.Length,
        byte[] bytes => 4 + bytes.Length,
        BinaryData data => 4 + data.ToMemory().Length,
        bool => 1,
        int => 4,
        Guid => 16,
        _ => 8, // long, double, DateTime, DateTimeOffset
    };
}

/// <summary>A write that Table Storage would refuse for its size: a design bug, answered as unavailable (503), never sent.</summary>
public sealed class TableLimitException(string message) : Exception(message);
