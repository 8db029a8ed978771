using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.Options;

namespace LlmCost.Storage.Tests.Operations;

/// <summary>A <see cref="LlmCostStorage"/> on the real Azurite with a random prefix, and the operations tables created.</summary>
public static class OpsStorage
{
    public static async Task<LlmCostStorage> CreateAsync()
    {
        var cs = Azurite.ConnectionString;
        var storage = new LlmCostStorage(
            new TableServiceClient(cs),
            new QueueServiceClient(cs, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 }),
            new BlobServiceClient(cs),
            new StorageNames(Options.Create(new LlmCostStorageOptions { Prefix = "r" + Guid.NewGuid().ToString("N")[..12] })));
        foreach (var table in new[]
        {
            OperationsStorage.RollupsTable, OperationsStorage.AlertsTable, OperationsStorage.SubscriptionsTable, OperationsStorage.RulesTable,
            OperationsStorage.DeliveriesTable, OperationsStorage.AuditTable,
        })
        {
            await storage.Table(table).CreateIfNotExistsAsync();
        }

        await storage.Queue(OperationsStorage.AlertQueue).CreateIfNotExistsAsync();
        await storage.Container(OperationsStorage.FilesContainer).CreateIfNotExistsAsync();
        return storage;
    }
}
