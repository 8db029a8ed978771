using System.Diagnostics;
using System.Text.Json;

namespace LlmCost.Cli.Tests;

/// <summary>Runs the built <c>llmcost</c> executable as a separate process, through real stdin/stdout pipes.</summary>
public sealed class ProcessTests
{
    private static ProcessStartInfo StartInfo(params string[] args)
    {
        // The test project references the CLI, so its build output (apphost + llmcost.dll) sits next to the tests.
        string dll = Path.Combine(AppContext.BaseDirectory, "llmcost.dll");
        Assert.True(File.Exists(dll), $"llmcost.dll not found next to the tests ({dll})");
        string host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }

    [Fact]
    public async Task Price_ThroughPipes_AnswersEachLine()
    {
        using var process = Process.Start(StartInfo("price"))!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteLineAsync(
            """{"provider":"openai","model":"gpt-4o","timestamp":"2026-06-01T12:00:00Z","usage":{"input_tokens":1000000,"output_tokens":1000000}}""");
        await process.StandardInput.WriteLineAsync("""{"provider":"openai","model":"gpt-4o","usage":{"input_tokens":5,"cache_read_tokens":6}}""");
        await process.StandardInput.WriteLineAsync("");
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        string[] lines = (await stdout).TrimEnd('\n').Split('\n');
        Assert.True(lines.Length == 3, $"stdout: {await stdout}\nstderr: {await stderr}");
        Assert.Equal(1, process.ExitCode);
        JsonElement first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal(1, first.GetProperty("line").GetInt32());
        Assert.Equal("usage.cache_read_tokens", JsonDocument.Parse(lines[1]).RootElement.GetProperty("errors")[0].GetProperty("field").GetString());
        Assert.Equal("blank line", JsonDocument.Parse(lines[2]).RootElement.GetProperty("skipped").GetString());
    }

    [Fact]
    public async Task UnknownCommand_ExitsTwo_WithUsageOnStderr()
    {
        using var process = Process.Start(StartInfo("frobnicate"))!;
        process.StandardInput.Close();
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("unknown command 'frobnicate'", stderr, StringComparison.Ordinal);
    }
}
