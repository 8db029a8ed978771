using Azure.Data.Tables;

namespace LlmCost.Functions.Tests.Infrastructure;

/// <summary>Direct access to the Azurite tables of a test host (to assert what was really stored).</summary>
public static class TestStorage
{
    public static TableClient Table(LlmCostTestHost host, string logicalName)
    {
        ArgumentNullException.ThrowIfNull(host);
        return new TableServiceClient(LlmCostTestHost.StorageConnectionString).GetTableClient(host.Options.Prefix + logicalName);
    }
}

public static class TableCounts
{
    /// <summary>How many rows of the given kind ("event", "day", "bucket") the table holds (all partitions).</summary>
    public static async Task<int> CountAsync(TableClient table, string kind)
    {
        ArgumentNullException.ThrowIfNull(table);
        int n = 0;
        await foreach (TableEntity _ in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"Kind eq {kind}"), select: ["RowKey"]))
        {
            n++;
        }

        return n;
    }
}
