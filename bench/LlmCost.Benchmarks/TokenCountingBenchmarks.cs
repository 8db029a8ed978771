using BenchmarkDotNet.Attributes;
using Microsoft.ML.Tokenizers;
using SharpToken;

namespace LlmCost.Benchmarks;

/// <summary>
/// Token counting on the same text with SharpToken (Baseline) and Microsoft.ML.Tokenizers, both o200k_base and
/// both created once (creation is the expensive part and is cached in the product).
/// </summary>
[MemoryDiagnoser]
public class TokenCountingBenchmarks
{
    private const string Prose =
        "The quarterly report shows that revenue grew by 12% year over year, driven mostly by the enterprise " +
        "segment, while operating costs stayed flat. Management expects the trend to continue into the next " +
        "fiscal year, although currency headwinds in Europe and Japan could reduce reported growth by one or " +
        "two percentage points. ";

    private const string Code =
        "public static long Fibonacci(int n)\n{\n    long a = 0, b = 1;\n    for (int i = 0; i < n; i++)\n" +
        "    {\n        (a, b) = (b, a + b);\n    }\n\n    return a;\n}\n";

    private GptEncoding _sharpToken = null!;
    private Tokenizer _mlTokenizer = null!;
    private string _text = "";

    /// <summary>Roughly 1 KB (a chat turn) and 16 KB (a long prompt) of mixed prose and code.</summary>
    [Params(1, 16)]
    public int Kilobytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _sharpToken = GptEncoding.GetEncoding("o200k_base");
        _mlTokenizer = TiktokenTokenizer.CreateForEncoding("o200k_base");
        var text = new System.Text.StringBuilder();
        while (text.Length < Kilobytes * 1024)
        {
            text.Append(Prose).Append(Code);
        }

        _text = text.ToString(0, Kilobytes * 1024);
        if (_sharpToken.CountTokens(_text) != _mlTokenizer.CountTokens(_text))
        {
            throw new InvalidOperationException("the two tokenizers disagree on the benchmark text");
        }
    }

    [Benchmark(Baseline = true)]
    public int SharpToken() => _sharpToken.CountTokens(_text);

    [Benchmark]
    public int MicrosoftMlTokenizers() => _mlTokenizer.CountTokens(_text);
}
