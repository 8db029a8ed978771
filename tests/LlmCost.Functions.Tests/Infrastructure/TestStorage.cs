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
    public static async Task<int> CountAsync(TableClient table, string kind, string? tenantId = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        int n = 0;
        string filter = tenantId is null
            ? TableClient.CreateQueryFilter($"Kind eq {kind}")
            : TableClient.CreateQueryFilter($"Kind eq {kind} and TenantId eq {tenantId}");
        await foreach (TableEntity _ in table.QueryAsync<TableEntity>(filter, select: ["RowKey"]))
        {
            n++;
        }

        return n;
    }
}
