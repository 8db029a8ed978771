using System.Diagnostics;

namespace LlmCost.Functions.Tests.Infrastructure;

/// <summary>
/// Busy-loop processes (a shell spinning at a lower priority) that load the machine the way other tenants of a
/// shared box do, so a test proves its guarantee under load rather than on a quiet machine. Each is stopped by its
/// own process id on dispose.
/// </summary>
public sealed class CpuBurners : IDisposable
{
    private readonly List<Process> _processes = [];

    private CpuBurners()
    {
    }

    /// <summary>Starts <paramref name="count"/> burners (nice 10: they compete for the CPU without starving the test runner).</summary>
    public static CpuBurners Start(int count)
    {
        var burners = new CpuBurners();
        for (var i = 0; i < count; i++)
        {
            var start = new ProcessStartInfo("nice") { UseShellExecute = false };
            foreach (var argument in new[] { "-n", "10", "sh", "-c", "while :; do :; done" })
            {
                start.ArgumentList.Add(argument);
            }

            burners._processes.Add(Process.Start(start) ?? throw new InvalidOperationException("could not start a CPU burner"));
        }

        return burners;
    }

    /// <summary>The 1-minute load average now (from /proc/loadavg).</summary>
    public string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown";

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }

            process.Dispose();
        }
    }
}
