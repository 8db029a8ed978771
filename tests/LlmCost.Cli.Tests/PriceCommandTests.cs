using System.Text;
using System.Text.Json;

namespace LlmCost.Cli.Tests;

public sealed class PriceCommandTests
{
    private static JsonElement Parse(string line) => JsonDocument.Parse(line).RootElement;

    [Fact]
    public async Task EveryLineIsAnswered_InOrder_BadLinesGetTheirOwnErrorAndTheRestGoOn()
    {
        string[] input =
        [
            """{"id":"ok-1","provider":"p1","model":"m1","timestamp":"2026-06-01T12:00:00Z","usage":{"input_tokens":1000,"output_tokens":500}}""",
            """{"id":"bad-json","provider":"p1","model":"m1","usage":{"input_tokens":1000""",
            """{"id":"no-model","provider":"p1","usage":{"input_tokens":10}}""",
            """{"id":"negative","model":"m1","usage":{"input_tokens":-5}}""",
            """{"id":"subset","model":"m1","usage":{"input_tokens":10,"cache_read_tokens":20}}""",
            """{"id":"wrong-type","model":"m1","usage":{"input_tokens":"ten"}}""",
            """{"id":"fraction","model":"m1","usage":{"input_tokens":1.5}}""",
            """{"id":"model-type","model":7,"usage":{"input_tokens":1}}""",
            """{"id":"no-usage","model":"m1"}""",
            """{"id":"both","model":"m1","usage":{"input_tokens":1},"raw_usage":{"prompt_tokens":1,"completion_tokens":1}}""",
            """{"id":"unknown-key","model":"m1","usage":{"input_tokens":1,"cached_tokens":1}}""",
            """{"id":"bad-time","model":"m1","timestamp":"soon","usage":{"input_tokens":1}}""",
            """{"id":"raw-unknown","model":"m1","raw_usage":{"tokens":5}}""",
            """[1,2,3]""",
            "",
            """{"id":"ok-2","model":"m1","raw_usage":{"prompt_tokens":300,"completion_tokens":100,"prompt_tokens_details":{"cached_tokens":200}}}""",
            """{"id":"unpriced","model":"nope","usage":{"input_tokens":1}}""",
        ];

        (int exit, string[] lines, _) = await CliRunner.RunAsync(string.Join("\n", input) + "\n",
            CliRunner.Services(new SimpleCalculator()), "price");

        Assert.Equal(1, exit);
        Assert.Equal(input.Length, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            Assert.Equal(i + 1, Parse(lines[i]).GetProperty("line").GetInt32());
        }

        // 1000 * $1/M + 500 * $2/M = 0.001 + 0.001.
        JsonElement ok1 = Parse(lines[0]);
        Assert.Equal("ok-1", ok1.GetProperty("id").GetString());
        Assert.Equal("0.002", ok1.GetProperty("cost_usd").GetString());
        Assert.True(ok1.GetProperty("priced").GetBoolean());
        Assert.Equal("m1", ok1.GetProperty("model_id").GetString());
        Assert.Equal("p1", ok1.GetProperty("provider_id").GetString());
        Assert.Equal(2, ok1.GetProperty("breakdown").GetArrayLength());

        AssertError(lines[1], "$", "not valid JSON");
        AssertError(lines[2], "model", "required");
        AssertError(lines[3], "usage.input_tokens", "negative");
        AssertError(lines[4], "usage.cache_read_tokens", "exceeds input_tokens");
        AssertError(lines[5], "usage.input_tokens", "string");
        AssertError(lines[6], "usage.input_tokens", "whole number");
        AssertError(lines[7], "model", "must be a string");
        AssertError(lines[8], "usage", "required");
        AssertError(lines[9], "usage", "not both");
        AssertError(lines[10], "usage.cached_tokens", "not a known usage key");
        AssertError(lines[11], "timestamp", "ISO 8601");
        AssertError(lines[12], "raw_usage", "not a usage object");
        AssertError(lines[13], "$", "JSON object");
        Assert.Equal("blank line", Parse(lines[14]).GetProperty("skipped").GetString());

        // OpenAI chat: prompt_tokens 300 already includes the 200 cached -> input 300, output 100: 0.0003 + 0.0002.
        JsonElement ok2 = Parse(lines[15]);
        Assert.Equal("0.0005", ok2.GetProperty("cost_usd").GetString());
        Assert.Equal("openai-chat", ok2.GetProperty("usage_shape").GetString());
        Assert.Equal(200, ok2.GetProperty("usage").GetProperty("cache_read_tokens").GetInt64());

        JsonElement unpriced = Parse(lines[16]);
        Assert.False(unpriced.GetProperty("priced").GetBoolean());
        Assert.Equal(JsonValueKind.Null, unpriced.GetProperty("cost_usd").ValueKind);
        Assert.Contains("unknown model", unpriced.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    private static void AssertError(string line, string field, string messagePart)
    {
        JsonElement result = Parse(line);
        Assert.False(result.TryGetProperty("cost_usd", out _), line);
        Assert.Contains(field, result.GetProperty("error").GetString(), StringComparison.Ordinal);
        JsonElement error = result.GetProperty("errors")[0];
        Assert.Equal(field, error.GetProperty("field").GetString());
        Assert.Contains(messagePart, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADefectOnOneLine_IsReportedOnThatLine_AndTheRunGoesOn()
    {
        var calculator = new Moq.Mock<LlmCost.Core.Pricing.IPriceCalculator>();
        calculator.Setup(c => c.Price(Moq.It.Is<LlmCost.Core.Pricing.PriceRequest>(r => r.Model == "boom")))
            .Throws(new InvalidOperationException("simulated defect"));
        calculator.Setup(c => c.Price(Moq.It.Is<LlmCost.Core.Pricing.PriceRequest>(r => r.Model != "boom")))
            .Returns((LlmCost.Core.Pricing.PriceRequest r) => new SimpleCalculator().Price(r));

        (int exit, string[] lines, _) = await CliRunner.RunAsync(
            "{\"model\":\"boom\",\"usage\":{\"input_tokens\":1}}\n{\"model\":\"m1\",\"usage\":{\"input_tokens\":1000000}}\n",
            CliRunner.Services(calculator.Object), "price");

        Assert.Equal(1, exit);
        Assert.Equal(2, lines.Length);
        JsonElement first = Parse(lines[0]);
        Assert.Equal(1, first.GetProperty("line").GetInt32());
        Assert.Contains("simulated defect", first.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("1", Parse(lines[1]).GetProperty("cost_usd").GetString());
    }

    [Fact]
    public async Task AllGoodLines_ExitZero_AndMissingTimestampMeansNow()
    {
        (int exit, string[] lines, _) = await CliRunner.RunAsync(
            """{"model":"m1","usage":{"input_tokens":1}}""", CliRunner.Services(new SimpleCalculator()), "price");

        Assert.Equal(0, exit);
        Assert.Equal("2026-06-01T00:00:00Z", Parse(Assert.Single(lines)).GetProperty("timestamp").GetString());
    }

    [Fact]
    public async Task Lenient_IgnoresUnknownUsageKeys()
    {
        (int exit, string[] lines, _) = await CliRunner.RunAsync(
            """{"model":"m1","usage":{"input_tokens":1,"total_tokens":1}}""", CliRunner.Services(new SimpleCalculator()), "price", "--lenient");

        Assert.Equal(0, exit);
        Assert.True(Parse(Assert.Single(lines)).GetProperty("priced").GetBoolean());
    }

    [Fact]
    public async Task UnknownOption_IsAUsageError()
    {
        (int exit, string[] lines, string error) = await CliRunner.RunAsync("", CliRunner.Services(new SimpleCalculator()), "price", "--strcit");

        Assert.Equal(2, exit);
        Assert.Empty(lines);
        Assert.Contains("--strcit", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HundredThousandLines_AreStreamed_NotBuffered()
    {
        // The input is generated lazily and checks, halfway through, that answers have already been written:
        // a command that buffered all lines (or all answers) would not have written anything yet.
        const int lines = 100_000;
        using var output = new CountingStream();
        var input = new GeneratedLines(lines, """{"model":"m1","timestamp":"2026-06-01T12:00:00Z","usage":{"input_tokens":1000,"output_tokens":10}}""",
            onHalfway: () => Assert.True(output.Newlines > lines / 4, $"only {output.Newlines} answers written at the halfway point"));
        var calculator = new SimpleCalculator();

        int exit = await CliApp.RunAsync(["price"], new CliStreams(input, output, TextWriter.Null), CliRunner.Services(calculator));

        Assert.Equal(0, exit);
        Assert.Equal(lines, output.Newlines);
        Assert.Equal(lines, calculator.Calls);
        Assert.True(input.HalfwayChecked);
    }

    /// <summary>Produces N copies of a line on demand, running a check when half of them have been read.</summary>
    private sealed class GeneratedLines(int count, string line, Action onHalfway) : Stream
    {
        private readonly byte[] _line = Encoding.UTF8.GetBytes(line + "\n");
        private long _position;

        public bool HalfwayChecked { get; private set; }

        public override int Read(byte[] buffer, int offset, int size)
        {
            long total = (long)_line.Length * count;
            if (!HalfwayChecked && _position >= total / 2)
            {
                HalfwayChecked = true;
                onHalfway();
            }

            int written = 0;
            while (written < size && _position < total)
            {
                int inLine = (int)(_position % _line.Length);
                int n = Math.Min(size - written, _line.Length - inLine);
                Array.Copy(_line, inLine, buffer, offset + written, n);
                written += n;
                _position += n;
            }

            return written;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Discards output, counting answer lines (so 100,000 answers are never held in memory by the test).</summary>
    private sealed class CountingStream : Stream
    {
        public int Newlines { get; private set; }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer) => Newlines += buffer.Count((byte)'\n');

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
