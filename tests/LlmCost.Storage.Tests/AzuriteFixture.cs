using Azure.Data.Tables;

namespace LlmCost.Storage.Tests;

/// <summary>Real Azurite from LLMCOST_TEST_STORAGE (started by ./test.sh); fails clearly when missing.</summary>
public static class Azurite
{
    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("LLMCOST_TEST_STORAGE") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "LLMCOST_TEST_STORAGE is not set: run ./test.sh, or start Azurite (source scripts/tools.sh; start_azurite 20000 20001 20002) " +
                "and export LLMCOST_TEST_STORAGE=\"$(azurite_connection_string 20000 20001 20002)\".");

    /// <summary>A fresh, uniquely named table.</summary>
    public static async Task<TableClient> NewTableAsync()
    {
        var table = new TableServiceClient(ConnectionString).GetTableClient("t" + Guid.NewGuid().ToString("N"));
        await table.CreateIfNotExistsAsync();
        return table;
    }
}
