using LlmCost.Storage.Hosting;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Hosting;

/// <summary>
/// The Azure Functions custom-handler side of the host: POST /{FunctionName} invocations for timer and queue
/// functions, the function catalog (from endpoints + background functions) that function.json is generated
/// from, and standalone mode (own timers with a blob lease, own queue polling with poison queues).
/// Owned by the deployment work (issue 7).
/// </summary>
public static class CustomHandler
{
    public const string StoragePrefixKey = "LlmCost:Storage:Prefix";
    public const string DefaultStoragePrefix = "llmcost";

    public static IServiceCollection AddCustomHandler(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<CustomHandlerOptions>().Bind(configuration.GetSection(CustomHandlerOptions.SectionName));
        services.AddSingleton<FunctionCatalog>();
        services.AddSingleton<BackgroundFunctionInvoker>();

        var options = configuration.GetSection(CustomHandlerOptions.SectionName).Get<CustomHandlerOptions>() ?? new CustomHandlerOptions();
        var prefix = StoragePrefix(configuration);
        if (options.DiagnosticFunctions)
        {
            services.AddBackgroundFunction<DiagnosticTimerFunction>();
            services.AddSingleton<IBackgroundFunction>(new DiagnosticQueueFunction($"{prefix}-diagnostics"));
        }

        // Created on first use only, so the HTTP API starts even where storage is not configured.
        services.AddSingleton(sp => HostStorageClients.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<IFunctionLeaseStore>(sp =>
            new BlobFunctionLeaseStore(sp.GetRequiredService<HostStorageClients>().BlobService.GetBlobContainerClient($"{prefix}-hosts")));
        services.AddSingleton<ITriggerQueueFactory, StorageTriggerQueueFactory>();

        if (FunctionGenerationLifetime.IsRequested(configuration))
        {
            services.AddSingleton<IHostLifetime, FunctionGenerationLifetime>();
        }
        else if (!CustomHandlerOptions.IsFunctionsHost(options.Mode, configuration) && options.RunBackgroundFunctions)
        {
            services.AddHostedService<StandaloneFunctionsService>();
        }

        return services;
    }

    public static WebApplication MapCustomHandler(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var catalog = app.Services.GetRequiredService<FunctionCatalog>();
        catalog.AttachEndpoints(((IEndpointRouteBuilder)app).DataSources);

        var options = app.Services.GetRequiredService<IOptions<CustomHandlerOptions>>().Value;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(CustomHandler));
        if (CustomHandlerOptions.IsFunctionsHost(options.Mode, app.Configuration))
        {
            CustomHandlerLog.HostMode(logger);
            // Only the host calls this, on 127.0.0.1; it sends no API key.
            app.MapPost("/{functionName}", InvocationEndpoint.HandleAsync)
                .AllowAnonymous()
                .ExcludeFromDescription();
        }
        else if (!options.RunBackgroundFunctions)
        {
            CustomHandlerLog.BackgroundOff(logger);
        }

        return app;
    }

    public static string StoragePrefix(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var prefix = configuration[StoragePrefixKey];
        return (string.IsNullOrWhiteSpace(prefix) ? DefaultStoragePrefix : prefix).ToLowerInvariant();
    }
}
