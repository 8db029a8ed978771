using Microsoft.Extensions.Configuration;

namespace LlmCost.Storage.Tests;

/// <summary>AzureWebJobsStorage read once, for the app's adapters and the hosting runtime alike.</summary>
public class StorageAccountConnectionTests
{
    [Fact]
    public void A_connection_string_gives_its_own_endpoints_for_every_service()
    {
        var account = StorageAccountConnection.FromConfiguration(Configuration(new()
        {
            ["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:24000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:24001/devstoreaccount1;TableEndpoint=http://127.0.0.1:24002/devstoreaccount1;",
        }));
        Assert.Equal(24000, account.CreateBlobService().Uri.Port);
        Assert.Equal(24001, account.CreateQueueService().Uri.Port);
        Assert.Equal(24002, account.CreateTableService().Uri.Port);
    }

    [Fact]
    public void The_account_name_gives_the_public_endpoints_and_an_explicit_uri_wins_for_its_service()
    {
        var account = StorageAccountConnection.FromConfiguration(Configuration(new()
        {
            ["AzureWebJobsStorage:accountName"] = "stllmcostabc",
            ["AzureWebJobsStorage:tableServiceUri"] = "https://tables.example.test/",
            ["AzureWebJobsStorage:credential"] = "managedidentity",
            ["AzureWebJobsStorage:clientId"] = "00000000-0000-0000-0000-000000000001",
        }));
        Assert.Equal("https://stllmcostabc.blob.core.windows.net/", account.CreateBlobService().Uri.ToString());
        Assert.Equal("https://stllmcostabc.queue.core.windows.net/", account.CreateQueueService().Uri.ToString());
        Assert.Equal("tables.example.test", account.CreateTableService().Uri.Host);
    }

    [Fact]
    public void A_service_without_a_uri_is_an_error_when_it_is_asked_for()
    {
        var account = StorageAccountConnection.FromConfiguration(Configuration(new()
        {
            ["AzureWebJobsStorage:blobServiceUri"] = "https://blob.example.test/",
        }));
        Assert.Equal("blob.example.test", account.CreateBlobService().Uri.Host);
        var error = Assert.Throws<InvalidOperationException>(() => account.CreateTableService());
        Assert.Contains("__tableServiceUri", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_setting_at_all_is_an_error_naming_both_forms()
    {
        var error = Assert.Throws<InvalidOperationException>(() => StorageAccountConnection.FromConfiguration(Configuration([])));
        Assert.Contains("'AzureWebJobsStorage'", error.Message, StringComparison.Ordinal);
        Assert.Contains("AzureWebJobsStorage__accountName", error.Message, StringComparison.Ordinal);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();
}
