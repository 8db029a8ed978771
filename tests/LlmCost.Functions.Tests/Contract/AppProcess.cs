using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LlmCost.Functions.Tests.Contract;

/// <summary>
/// The built app started as a separate process, the way the Functions host starts a custom handler: the
/// FUNCTIONS_CUSTOMHANDLER_* environment of reference §1.2, listening on the port it is given.
/// </summary>
public sealed class AppProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private AppProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Port { get; }

    public HttpClient Client { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the app as the Functions host would (FunctionsHost mode) and waits until GET / answers.</summary>
    /// <param name="executable">The published self-contained executable; by default the built dll under `dotnet`.</param>
    public static Task<AppProcess> StartAsHostWouldAsync(string appRoot, IDictionary<string, string> settings, string? executable = null)
    {
        var port = FreePort();
        var workerId = Guid.NewGuid().ToString();
        var environment = new Dictionary<string, string>(settings)
        {
            ["FUNCTIONS_CUSTOMHANDLER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["FUNCTIONS_HTTPWORKER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"] = workerId,
            ["FUNCTIONS_HTTPWORKER_ID"] = workerId,
            ["FUNCTIONS_APP_ROOT_PATH"] = appRoot,
        };
        return StartAsync(port, environment, [], executable);
    }

    /// <summary>Starts the app with no Functions host around it (standalone mode) on a free PORT.</summary>
    /// <param name="workingDirectory">Where it is started from (default: its own folder); ./run.sh starts it from the repository root.</param>
    public static Task<AppProcess> StartStandaloneAsync(IDictionary<string, string> settings, string? workingDirectory = null)
    {
        var port = FreePort();
        var environment = new Dictionary<string, string>(settings)
        {
            ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        return StartAsync(port, environment, [], workingDirectory: workingDirectory);
    }

    /// <summary>Runs the app's generator (it exits by itself) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunToCompletionAsync(IEnumerable<string> arguments, IDictionary<string, string>? settings = null)
    {
        var info = CreateStartInfo(arguments, settings ?? new Dictionary<string, string>());
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the app");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static async Task<AppProcess> StartAsync(int port, IDictionary<string, string> environment, IEnumerable<string> arguments, string? executable = null, string? workingDirectory = null)
    {
        var info = CreateStartInfo(arguments, environment, executable);
        info.WorkingDirectory = workingDirectory ?? info.WorkingDirectory;
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the app");
        var app = new AppProcess(process, port);
        process.OutputDataReceived += (_, e) => app.Append(e.Data);
        process.ErrorDataReceived += (_, e) => app.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // The host pings GET / every 25 ms and gives up after 30 s (60 s per the docs); hold the app to that.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The app exited with {process.ExitCode} during start-up:\n{app.Output}");
            }

            try
            {
                using var response = await app.Client.GetAsync("/");
                return app;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(25);
            }
        }

        await app.DisposeAsync();
        throw new InvalidOperationException($"GET / did not answer within 30 s:\n{app.Output}");
    }

    private static ProcessStartInfo CreateStartInfo(IEnumerable<string> arguments, IDictionary<string, string> environment, string? executable = null)
    {
        var program = executable ?? TestEnvironment.AppDll;
        var info = new ProcessStartInfo(executable ?? "dotnet")
        {
            // As host.json's workingDirectory: the folder of the app, where appsettings.json is.
            WorkingDirectory = Path.GetDirectoryName(program)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (executable is null)
        {
            info.ArgumentList.Add(program);
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // A clean slate: nothing from the test runner's own ASP.NET settings leaks into the app.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("LlmCost__", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return info;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
