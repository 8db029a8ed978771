using System.Diagnostics;
using System.Net.Http.Headers;
using System.Reflection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Functions.Tests.Infrastructure;

/// <summary>Options for one test host.</summary>
public sealed class TestHostOptions
{
    /// <summary>Extra configuration (e.g. "LlmCost:Usage:StrictMode" = "true"); passed as command-line settings.</summary>
    public Dictionary<string, string?> Settings { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>When set, replaces the app's TimeProvider.</summary>
    public FakeTimeProvider? Time { get; set; }

    /// <summary>Extra service registrations applied after the app's own (last registration wins).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; set; }

    /// <summary>Storage prefix; random by default so hosts never see each other's rows.</summary>
    public string Prefix { get; set; } = "t" + Guid.NewGuid().ToString("N")[..12];
}

/// <summary>
/// Starts the REAL app (the Program entry point, unchanged) with real Kestrel on a random loopback port against
/// the Azurite named by LLMCOST_TEST_STORAGE, with a random storage prefix and standalone background functions
/// off. The entry point runs on its own thread; services are hooked in through the hosting DiagnosticListener
/// events (the same mechanism WebApplicationFactory uses), so Program.cs needs no test seams.
/// </summary>
public sealed class LlmCostTestHost : IAsyncDisposable
{
    public const string AdminKey = "test-admin-key-0123456789abcdef";

    private static readonly AsyncLocal<Hook?> CurrentHook = new();
    private static readonly object SubscribeLock = new();
    private static bool _subscribed;

    private readonly IHost _host;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Thread _thread;

    private LlmCostTestHost(IHost host, IHostApplicationLifetime lifetime, Thread thread, Uri baseAddress, TestHostOptions options)
    {
        _host = host;
        _lifetime = lifetime;
        _thread = thread;
        BaseAddress = baseAddress;
        Options = options;
        Client = CreateClient(AdminKey);
    }

    public Uri BaseAddress { get; }

    public TestHostOptions Options { get; }

    /// <summary>An HttpClient carrying the admin key.</summary>
    public HttpClient Client { get; }

    public IServiceProvider Services => _host.Services;

    /// <summary>The Azurite connection string, or a clear failure when the test script did not provide one.</summary>
    public static string StorageConnectionString =>
        Environment.GetEnvironmentVariable("LLMCOST_TEST_STORAGE") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "LLMCOST_TEST_STORAGE is not set: run the tests through ./test.sh (it starts Azurite and exports the connection string), " +
                "or start Azurite yourself (source scripts/tools.sh; start_azurite 20000 20001 20002) and export LLMCOST_TEST_STORAGE=\"$(azurite_connection_string 20000 20001 20002)\" (any free ports).");

    public static async Task<LlmCostTestHost> StartAsync(Action<TestHostOptions>? configure = null)
    {
        var options = new TestHostOptions();
        configure?.Invoke(options);
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["PORT"] = "0",
            ["AzureWebJobsStorage"] = StorageConnectionString,
            ["LlmCost:Storage:Prefix"] = options.Prefix,
            ["LlmCost:Hosting:RunBackgroundFunctions"] = "false",
            ["LLMCOST_ADMIN_KEY"] = AdminKey,
            ["Logging:LogLevel:Default"] = "Warning",
            // Test receivers listen on loopback; production keeps this off (a test turns it off to see the refusal).
            ["LlmCost:Alerts:AllowPrivateNetworkTargets"] = "true",
        };
        foreach ((string key, string? value) in options.Settings)
        {
            settings[key] = value;
        }

        string[] args = settings.Where(kv => kv.Value is not null).Select(kv => $"--{kv.Key}={kv.Value}").ToArray();
        EnsureSubscribed();
        var hook = new Hook(options);
        MethodInfo entryPoint = typeof(Program).Assembly.EntryPoint
            ?? throw new InvalidOperationException("LlmCost.Functions has no entry point");
        var thread = new Thread(() =>
        {
            CurrentHook.Value = hook;
            try
            {
                entryPoint.Invoke(null, [args]);
                hook.Exited.TrySetResult();
            }
            catch (Exception ex)
            {
                hook.Exited.TrySetException(ex is TargetInvocationException { InnerException: { } inner } ? inner : ex);
                hook.Built.TrySetException(ex);
            }
        })
        { IsBackground = true, Name = "llmcost-test-host" };
        thread.Start();

        IHost host = await hook.Built.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Task first = await Task.WhenAny(hook.Started.Task, hook.Exited.Task).WaitAsync(TimeSpan.FromSeconds(60));
        await first; // rethrows a start-up failure (e.g. storage unreachable, a setting refused)
        if (first == hook.Exited.Task)
        {
            throw new InvalidOperationException("the app exited during start-up");
        }

        string address = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.First();
        return new LlmCostTestHost(host, hook.Lifetime!, thread, new Uri(address.TrimEnd('/') + "/"), options);
    }

    /// <summary>A client for <see cref="BaseAddress"/> with the given key (null = no Authorization header).</summary>
    public HttpClient CreateClient(string? apiKey, HttpMessageHandler? handler = null)
    {
        HttpClient client = handler is null ? new HttpClient() : new HttpClient(handler);
        client.BaseAddress = BaseAddress;
        client.Timeout = TimeSpan.FromSeconds(60);
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        try
        {
            _lifetime.StopApplication();
        }
        catch (ObjectDisposedException)
        {
            // The app already stopped on its own (and disposed its services): nothing left to stop.
        }

        await Task.Run(() => _thread.Join(TimeSpan.FromSeconds(30)));
    }

    private static void EnsureSubscribed()
    {
        lock (SubscribeLock)
        {
            if (_subscribed)
            {
                return;
            }

            DiagnosticListener.AllListeners.Subscribe(new ListenerObserver());
            _subscribed = true;
        }
    }

    private sealed class Hook(TestHostOptions options)
    {
        public TestHostOptions Options { get; } = options;
        public TaskCompletionSource<IHost> Built { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Resolved when the host is built, before it starts: a host that fails at start disposes its services.</summary>
        public IHostApplicationLifetime? Lifetime { get; set; }
        public TaskCompletionSource Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class ListenerObserver : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>
    {
        public void OnNext(DiagnosticListener value)
        {
            if (value.Name == "Microsoft.Extensions.Hosting")
            {
                value.Subscribe(this);
            }
        }

        public void OnNext(KeyValuePair<string, object?> value)
        {
            // Events are raised synchronously on the thread building the host; the AsyncLocal tells which test's
            // host it is, so parallel tests never configure each other's apps.
            Hook? hook = CurrentHook.Value;
            if (hook is null)
            {
                return;
            }

            if (value.Key == "HostBuilding" && value.Value is IHostBuilder builder)
            {
                builder.ConfigureServices(services =>
                {
                    if (hook.Options.Time is { } time)
                    {
                        services.AddSingleton<TimeProvider>(time);
                    }

                    hook.Options.ConfigureServices?.Invoke(services);
                });
            }
            else if (value.Key == "HostBuilt" && value.Value is IHost host)
            {
                // Still on the app's thread, before it starts: a start-up failure (a refused setting) stops and
                // disposes the host right after, and resolving anything from it then would hide that failure.
                hook.Lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
                hook.Lifetime.ApplicationStarted.Register(() => hook.Started.TrySetResult());
                hook.Built.TrySetResult(host);
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }
}
