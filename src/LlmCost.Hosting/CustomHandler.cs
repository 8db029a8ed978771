using LlmCost.Storage;
using LlmCost.Hosting.AzureStorage;
using Microsoft.Extensions.Options;

namespace LlmCost.Hosting;

/// <summary>
/// The Azure Functions custom-handler side of the host: POST /{FunctionName} invocations for timer and queue
/// functions, the function catalog (from endpoints + background functions) that function.json is generated
/// from, and standalone mode (own timers with a blob lease, own queue polling with poison queues).
/// </summary>
public static class CustomHandler
{
    /// <summary>The blob container ("{prefix}-hosts") holding the timer locks, like the host's azure-webjobs-hosts.</summary>
    public const string LeaseContainerLogicalName = "hosts";

    public static IServiceCollection AddCustomHandler(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<CustomHandlerOptions>().BindConfiguration(CustomHandlerOptions.SectionName)
            .Validate(o => o.IsValid(), $"{CustomHandlerOptions.SectionName}: TimerLeaseDuration 15-60 s, queue visibility timeouts 0-7 days (processing at least 1 s), QueueMaxPollingInterval positive")
            .ValidateOnStart();
        services.AddSingleton(sp => new FunctionCatalog(sp));
        services.AddSingleton<FunctionBindings>();
        services.AddSingleton<BackgroundFunctionInvoker>();

        var options = configuration.GetSection(CustomHandlerOptions.SectionName).Get<CustomHandlerOptions>() ?? new CustomHandlerOptions();
        if (options.DiagnosticFunctions)
        {
            services.AddBackgroundFunction<DiagnosticTimerFunction>();
            services.AddLlmCostQueue(DiagnosticQueueFunction.LogicalQueueName);
            services.AddBackgroundFunction<DiagnosticQueueFunction>();
        }

        // Created on first use only, so the HTTP API starts even where storage is not configured. These clients carry
        // the trigger-queue rules (base64, undecodable messages to poison) on top of the shared storage settings.
        services.AddSingleton(sp => HostStorageClients.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<IFunctionLeaseStore>(sp => new BlobFunctionLeaseStore(
            sp.GetRequiredService<HostStorageClients>().BlobService.GetBlobContainerClient(sp.GetRequiredService<StorageNames>().Container(LeaseContainerLogicalName))));
        services.AddSingleton<ITriggerQueueFactory, StorageTriggerQueueFactory>();

        if (FunctionGenerationLifetime.IsRequested(configuration))
        {
            services.AddSingleton<IHostLifetime, FunctionGenerationLifetime>();
            // Functions are constructed to read their definitions, and their dependencies build storage clients
            // (without connecting). Generating must not need an account: give them a placeholder if none is set.
            if (string.IsNullOrWhiteSpace(configuration[HostStorageClients.ConnectionName])
                && !configuration.GetSection(HostStorageClients.ConnectionName).GetChildren().Any()
                && configuration is IConfigurationBuilder builder)
            {
                builder.AddInMemoryCollection([new(HostStorageClients.ConnectionName, "UseDevelopmentStorage=true")]);
            }
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
}
