using Azure.Data.Tables;
using LlmCost.Storage.Recording;
using Microsoft.Extensions.DependencyInjection;

namespace LlmCost.Functions.Tests.Infrastructure;

/// <summary>Direct access to the Azurite tables of a test host (to assert what was really stored).</summary>
public static class TestStorage
{
    /// <remarks>
    /// The usage tables are written by the projector after the answer: asking for one first waits until the host
    /// has applied everything it acknowledged, so a test asserts the state a reader would see.
    /// </remarks>
    public static TableClient Table(LlmCostTestHost host, string logicalName)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(logicalName);
        if (logicalName.StartsWith("usage", StringComparison.Ordinal))
        {
            host.Services.GetRequiredService<UsageProjector>().DrainAsync().GetAwaiter().GetResult();
        }

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
