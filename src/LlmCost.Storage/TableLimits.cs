using System.Text;
using Azure.Data.Tables;

namespace LlmCost.Storage;

/// <summary>
/// Table Storage's size limits, checked before a transaction is sent (Azurite enforces some of them loosely, the
/// real service strictly): at most 100 actions and 4 MiB per entity-group transaction, at most 1 MiB and 252
/// custom properties per entity, at most 64 KiB per string or binary property. Rows that grow with traffic must
/// never get near them by design; this check turns a design mistake into a clear failure instead of a storage 400.
/// </summary>
public static class TableLimits
{
    public const int MaxActions = 100;
    public const long MaxTransactionBytes = 4 * 1024 * 1024;
    public const long MaxEntityBytes = 1024 * 1024;
    public const int MaxProperties = 252;
    public const int MaxPropertyBytes = 64 * 1024;

    /// <summary>Throws <see cref="TableLimitException"/> when the actions could not be one transaction.</summary>
    public static void Check(IReadOnlyList<TableTransactionAction> actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        if (actions.Count > MaxActions)
        {
            throw new TableLimitException($"a transaction holds at most {MaxActions} actions, this one {actions.Count}");
        }

        long total = 0;
        foreach (var action in actions)
        {
            var size = EntityBytes(action.Entity);
            if (size > MaxEntityBytes)
            {
                throw new TableLimitException($"row '{action.Entity.RowKey}' would be {size} bytes (limit {MaxEntityBytes})");
            }

            total += size + 512; // the action's own envelope in the batch body
        }

        if (total > MaxTransactionBytes)
        {
            throw new TableLimitException($"a transaction holds at most {MaxTransactionBytes} bytes, this one about {total}");
        }
    }

    /// <summary>
    /// The service's size formula: 4 + 2 x (|PartitionKey| + |RowKey|) + per property 8 + 2 x |name| + the value
    /// (strings 2 x length + 4, binary length + 4, 8 for numbers, dates, GUIDs, 1 for booleans).
    /// </summary>
    public static long EntityBytes(ITableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        long size = 4 + (2L * ((entity.PartitionKey?.Length ?? 0) + (entity.RowKey?.Length ?? 0)));
        if (entity is not TableEntity table)
        {
            return size;
        }

        var properties = 0;
        foreach (var (name, value) in table)
        {
            if (name is "PartitionKey" or "RowKey" or "Timestamp" or "odata.etag")
            {
                continue;
            }

            properties++;
            long valueBytes = value switch
            {
                null => 0,
                string text => (2L * text.Length) + 4,
                byte[] bytes => bytes.Length + 4,
                BinaryData data => data.ToMemory().Length + 4,
                bool => 1,
                _ => 8,
            };
            if (value is string s && Encoding.Unicode.GetByteCount(s) > MaxPropertyBytes)
            {
                throw new TableLimitException($"property '{name}' of row '{entity.RowKey}' would be {Encoding.Unicode.GetByteCount(s)} bytes (limit {MaxPropertyBytes})");
            }

            size += 8 + (2L * name.Length) + valueBytes;
        }

        if (properties > MaxProperties)
        {
            throw new TableLimitException($"row '{entity.RowKey}' would have {properties} properties (limit {MaxProperties})");
        }

        return size;
    }
}

/// <summary>A write that Table Storage would refuse for its size: a design bug, answered as unavailable (503), never sent.</summary>
public sealed class TableLimitException(string message) : Exception(message);
