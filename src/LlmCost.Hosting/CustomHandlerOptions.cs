using LlmCost.Hosting.AzureStorage;

namespace LlmCost.Hosting;

/// <summary>Who runs the timer and queue functions.</summary>
public enum HostingMode
{
    /// <summary>FunctionsHost when FUNCTIONS_CUSTOMHANDLER_PORT is set (the host started us), else Standalone.</summary>
    Auto,

    /// <summary>The Azure Functions host triggers functions and POSTs /{FunctionName}.</summary>
    FunctionsHost,

    /// <summary>No host: the app schedules timers and polls queues itself, against the same storage.</summary>
    Standalone,
}

/// <summary>Configuration section "LlmCost:Hosting".</summary>
public sealed class CustomHandlerOptions
{
    public const string SectionName = "LlmCost:Hosting";

    public HostingMode Mode { get; set; } = HostingMode.Auto;

    /// <summary>Standalone mode only: false turns the timer scheduler and queue pollers off (tests that drive functions themselves).</summary>
    public bool RunBackgroundFunctions { get; set; } = true;

    /// <summary>
    /// Standalone only: take the timer and queue triggers from the function.json files in this folder (a published
    /// package's root, or scripts/generate-functions.sh output) instead of the compiled definitions, resolving their
    /// %AppSetting% expressions as the Functions host would. Runs exactly what a deployment would run.
    /// </summary>
    public string? FunctionsDirectory { get; set; }

    /// <summary>The app setting spelling of <see cref="FunctionsDirectory"/>, for messages.</summary>
    public const string FunctionsDirectorySetting = "LlmCost__Hosting__FunctionsDirectory";

    /// <summary>Registers two tiny probe functions (DiagnosticTimer, DiagnosticQueue) used by the contract tests.</summary>
    public bool DiagnosticFunctions { get; set; }

    /// <summary>Standalone: how long a failed message stays invisible before its retry (host.json's queues.visibilityTimeout).</summary>
    public TimeSpan QueueVisibilityTimeout { get; set; } = FunctionsHostSettings.QueueVisibilityTimeout;

    /// <summary>Standalone: the longest wait between polls of an empty queue (polling backs off up to this).</summary>
    public TimeSpan QueueMaxPollingInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Standalone: how long a message is hidden from other instances while a function processes it.</summary>
    public TimeSpan QueueProcessingVisibility { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Standalone: the blob lease that makes one instance run a timer occurrence (15-60 s, renewed while running).</summary>
    public TimeSpan TimerLeaseDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// False when a timing is outside what storage accepts (a blob lease is 15-60 s; a queue message's visibility
    /// at most 7 days) or would spin (a zero polling interval): the host does not start with it.
    /// </summary>
    public bool IsValid() =>
        TimerLeaseDuration >= TimeSpan.FromSeconds(15) && TimerLeaseDuration <= TimeSpan.FromSeconds(60)
        && QueueVisibilityTimeout >= TimeSpan.Zero && QueueVisibilityTimeout <= TimeSpan.FromDays(7)
        && QueueProcessingVisibility >= TimeSpan.FromSeconds(1) && QueueProcessingVisibility <= TimeSpan.FromDays(7)
        && QueueMaxPollingInterval > TimeSpan.Zero;

    public static bool IsFunctionsHost(HostingMode mode, IConfiguration configuration) => mode switch
    {
        HostingMode.FunctionsHost => true,
        HostingMode.Standalone => false,
        _ => !string.IsNullOrWhiteSpace(configuration["FUNCTIONS_CUSTOMHANDLER_PORT"]),
    };
}

/// <summary>
/// The values host.json is generated from. Standalone mode uses the same numbers, so it behaves as the host does.
/// </summary>
public static class FunctionsHostSettings
{
    /// <summary>
    /// Empty: every function route carries the app's own path ("api/usage", "dashboard/{*path}"), so the dashboard
    /// is served at /dashboard/ in Azure as it is standalone, not below a host-imposed /api.
    /// </summary>
    public const string RoutePrefix = "";
    public const string ExtensionBundleVersion = "[4.*, 5.0.0)";
    public const string AppFolder = "app";
    public const string ExecutableName = "LlmCost.Functions";
    public const int QueueBatchSize = 16;
    public static readonly TimeSpan QueueVisibilityTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan FunctionTimeout = TimeSpan.FromMinutes(10);
    public const int MaxDequeueCount = TriggerQueueConventions.MaxDequeueCount;
    public const string QueueMessageEncoding = TriggerQueueConventions.HostJsonMessageEncoding;
    public const string StorageConnection = HostStorageClients.ConnectionName;

    /// <summary>Binding names in function.json: Data.{name} of the host's invocation payload.</summary>
    public const string TimerBindingName = "timer";
    public const string QueueBindingName = "message";
    public const string HttpRequestBindingName = "req";
    public const string HttpResponseBindingName = "res";
}
