using LlmCost.Hosting.AzureStorage;
using Microsoft.Extensions.Configuration;

namespace LlmCost.Hosting.Tests;

/// <summary>AzureWebJobsStorage as the Functions host reads it: a connection string locally, identity-based in Azure.</summary>
public class HostStorageClientsTests
{
    [Fact]
    public void A_connection_string_is_used_as_is()
    {
        var clients = HostStorageClients.FromConfiguration(Configuration(new()
        {
            ["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:24000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:24001/devstoreaccount1;",
        }));
        Assert.Equal("http://127.0.0.1:24000/devstoreaccount1", clients.BlobService.Uri.ToString().TrimEnd('/'));
        Assert.Equal("http://127.0.0.1:24001/devstoreaccount1", clients.QueueService.Uri.ToString().TrimEnd('/'));
    }

    [Fact]
    public void The_identity_based_account_name_form_gives_the_public_endpoints()
    {
        // What infra-bicep sets: AzureWebJobsStorage__accountName / __credential / __clientId.
        var clients = HostStorageClients.FromConfiguration(Configuration(new()
        {
            ["AzureWebJobsStorage:accountName"] = "stllmcostabc",
            ["AzureWebJobsStorage:credential"] = "managedidentity",
            ["AzureWebJobsStorage:clientId"] = "00000000-0000-0000-0000-000000000001",
        }));
        Assert.Equal("https://stllmcostabc.blob.core.windows.net/", clients.BlobService.Uri.ToString());
        Assert.Equal("https://stllmcostabc.queue.core.windows.net/", clients.QueueService.Uri.ToString());
    }

    [Fact]
    public void Explicit_service_uris_win_over_the_account_name()
    {
        var clients = HostStorageClients.FromConfiguration(Configuration(new()
        {
            ["AzureWebJobsStorage:accountName"] = "ignored",
            ["AzureWebJobsStorage:blobServiceUri"] = "https://blob.example.test/",
            ["AzureWebJobsStorage:queueServiceUri"] = "https://queue.example.test/",
        }));
        Assert.Equal("blob.example.test", clients.BlobService.Uri.Host);
        Assert.Equal("queue.example.test", clients.QueueService.Uri.Host);
    }

    [Fact]
    public void Missing_storage_settings_are_an_error_naming_both_forms()
    {
        var error = Assert.Throws<InvalidOperationException>(() => HostStorageClients.FromConfiguration(Configuration([])));
        Assert.Contains("AzureWebJobsStorage", error.Message, StringComparison.Ordinal);
        Assert.Contains("AzureWebJobsStorage__accountName", error.Message, StringComparison.Ordinal);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();
}
