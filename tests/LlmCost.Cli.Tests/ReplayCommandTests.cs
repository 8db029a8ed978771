using System.Text.Json;

namespace LlmCost.Cli.Tests;

public sealed class ReplayCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("llmcost-replay-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string WriteTrace(string name, params string[] rows)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, "TIMESTAMP,ContextTokens,GeneratedTokens\r\n" + string.Join("\r\n", rows));
        return path;
    }

    [Fact]
    public async Task Totals_AreTheSumsOfTheRows()
    {
        string trace = WriteTrace("t.csv",
            "2023-11-16 18:17:03.9799600,4808,10",
            "2023-11-16 18:17:04.0319600,3180,8",
            "2023-11-16 18:17:04.0781490,110,27");

        (int exit, string[] lines, _) = await CliRunner.RunAsync("", CliRunner.Services(new SimpleCalculator()),
            "replay", "--trace", trace, "--models", "m1", "--users", "3", "--json");

        Assert.Equal(0, exit);
        JsonElement totals = JsonDocument.Parse(Assert.Single(lines)).RootElement;
        Assert.Equal(3, totals.GetProperty("requests").GetInt64());
        Assert.Equal(4808 + 3180 + 110, totals.GetProperty("input_tokens").GetInt64());
        Assert.Equal(10 + 8 + 27, totals.GetProperty("output_tokens").GetInt64());
        // 8098 input * $1/M + 45 output * $2/M = 0.008098 + 0.00009.
        Assert.Equal("0.008188", totals.GetProperty("cost_usd").GetString());
        Assert.Equal(0, totals.GetProperty("unpriced").GetInt64());
        Assert.Contains("CC-BY 4.0", totals.GetProperty("attribution").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersAreDeterministicPerSeed_AndZipfSkewed()
    {
        string trace = WriteTrace("t.csv", Enumerable.Range(0, 2000).Select(i => $"2023-11-16 18:17:{i % 60:00}.0000000,100,10").ToArray());
        string[] args = ["replay", "--trace", trace, "--models", "m1,other", "--users", "50", "--zipf", "1.2", "--json"];

        (_, string[] a, _) = await CliRunner.RunAsync("", CliRunner.Services(new SimpleCalculator()), [.. args, "--seed", "7"]);
        (_, string[] b, _) = await CliRunner.RunAsync("", CliRunner.Services(new SimpleCalculator()), [.. args, "--seed", "7"]);
        (_, string[] c, _) = await CliRunner.RunAsync("", CliRunner.Services(new SimpleCalculator()), [.. args, "--seed", "8"]);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        JsonElement totals = JsonDocument.Parse(a[0]).RootElement;
        // Odd users call m1 (priced), even users call "other" (unpriced by the stand-in): both occur, and the
        // counts add up.
        JsonElement byModel = totals.GetProperty("by_model");
        long m1 = byModel.GetProperty("m1").GetProperty("calls").GetInt64();
        long other = byModel.GetProperty("other").GetProperty("calls").GetInt64();
        Assert.Equal(2000, m1 + other);
        Assert.Equal(other, totals.GetProperty("unpriced").GetInt64());
        // Zipf(1.2) over 50 users: user 1 has p = 1 / H(50, 1.2) = 1 / 3.3096 = 0.302, so ~604 of 2000 calls
        // (binomial sd ~20.5; the range is about +-3 sd).
        JsonElement top = totals.GetProperty("top_users")[0];
        Assert.Equal("user-1", top.GetProperty("user").GetString());
        Assert.InRange(top.GetProperty("calls").GetInt64(), 540, 670);
    }

    [Fact]
    public void ZipfFrequencies_FollowTheDistribution()
    {
        var zipf = new ZipfUsers(10, 1.0, 123);
        int[] counts = new int[11];
        for (int i = 0; i < 100_000; i++)
        {
            counts[zipf.Next()]++;
        }

        // p(k) = (1/k) / H(10), H(10) = 2.928968: p(1) = 0.3414, p(2) = 0.1707, p(10) = 0.03414.
        Assert.InRange(counts[1], 33_500, 34_800);
        Assert.InRange(counts[2], 16_700, 17_500);
        Assert.InRange(counts[10], 3_100, 3_700);
        Assert.Equal(0, counts[0]);
    }

    [Fact]
    public async Task MissingTrace_IsAUsageError()
    {
        (int exit, _, string error) = await CliRunner.RunAsync("", CliRunner.Services(new SimpleCalculator()), "replay", "--trace", Path.Combine(_directory, "nope.csv"));

        Assert.Equal(2, exit);
        Assert.Contains("not found", error, StringComparison.Ordinal);
    }
}
