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
