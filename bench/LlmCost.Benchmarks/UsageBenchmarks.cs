using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using LlmCost.Core.Usage;

namespace LlmCost.Benchmarks;

/// <summary>Parse and normalise one provider usage object (the ingestion path before pricing).</summary>
[MemoryDiagnoser]
public class UsageBenchmarks
{
    private readonly byte[] _anthropic = Encoding.UTF8.GetBytes(
        """{"input_tokens":1000,"cache_creation_input_tokens":800,"cache_read_input_tokens":2000,"cache_creation":{"ephemeral_5m_input_tokens":500,"ephemeral_1h_input_tokens":300},"output_tokens":400,"service_tier":"standard"}""");

    private readonly byte[] _canonical = Encoding.UTF8.GetBytes(
        """{"input_tokens":3800,"cache_read_tokens":2000,"cache_write_tokens":800,"cache_write_1h_tokens":300,"output_tokens":400}""");

    [Benchmark(Baseline = true)]
    public UsageParseResult ParseCanonical()
    {
        using JsonDocument document = JsonDocument.Parse(_canonical);
        return CanonicalUsageParser.Parse(document.RootElement);
    }

    [Benchmark]
    public UsageParseResult NormaliseAnthropic()
    {
        using JsonDocument document = JsonDocument.Parse(_anthropic);
        return UsageNormalizer.Normalize("anthropic", document.RootElement);
    }
}
