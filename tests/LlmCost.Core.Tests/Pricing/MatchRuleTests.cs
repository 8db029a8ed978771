using System.Text.Json;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Tests.Pricing;

public sealed class MatchRuleTests
{
    private static MatchRule Parse(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return MatchRule.Parse(document.RootElement, "$");
    }

    [Theory]
    [InlineData("""{"equals": "GPT-4o"}""", "gpt-4o", true)]
    [InlineData("""{"equals": "gpt-4o"}""", "gpt-4o-mini", false)]
    [InlineData("""{"starts_with": "Claude-"}""", "claude-3", true)]
    [InlineData("""{"ends_with": "-Latest"}""", "mistral-large-latest", true)]
    [InlineData("""{"contains": "gemini"}""", "google/gemini-2.5-pro", true)]
    [InlineData("""{"regex": "^o[134]"}""", "o3-mini", true)]
    [InlineData("""{"regex": "^O[134]"}""", "o3-mini", false)] // regex is case-sensitive against the lower-cased name
    [InlineData("""{"regex": "^gpt-5-\\d{4}$"}""", "gpt-5-٢٠٢٥", false)] // JavaScript \d is ASCII only
    [InlineData("""{"regex": "^gpt-5-\\d{4}$"}""", "gpt-5-2025", true)]
    [InlineData("""{"and": [{"starts_with": "gemini-2.5-pro"}, {"regex": "^(?!.*-[tT][tT][sS](?:$|-))"}]}""", "gemini-2.5-pro-preview-tts", false)]
    [InlineData("""{"and": [{"starts_with": "gemini-2.5-pro"}, {"regex": "^(?!.*-[tT][tT][sS](?:$|-))"}]}""", "gemini-2.5-pro-preview", true)]
    [InlineData("""{"or": [{"equals": "a"}, {"equals": "b"}]}""", "b", true)]
    public void Operators_FollowGenaiPrices(string rule, string loweredName, bool expected)
    {
        Assert.Equal(expected, Parse(rule).Matches(loweredName));
    }

    [Fact]
    public void Describe_RoundTripsTheRuleAsJson()
    {
        const string json = """{"and":[{"starts_with":"gemini-2.5-pro"},{"regex":"^(?!.*-tts)"}]}""";

        Assert.Equal(json, Parse(json).ToString());
    }

    [Theory]
    [InlineData("00:30:00Z", "16:30:00Z", "2026-01-01T00:30:00Z", true)]
    [InlineData("00:30:00Z", "16:30:00Z", "2026-01-01T16:30:00Z", false)]
    [InlineData("22:00:00Z", "06:00:00Z", "2026-01-01T23:59:59Z", true)] // wraps midnight
    [InlineData("22:00:00Z", "06:00:00Z", "2026-01-01T05:59:59.999Z", true)]
    [InlineData("22:00:00Z", "06:00:00Z", "2026-01-01T06:00:00Z", false)]
    [InlineData("01:00:00+08:00", "09:00:00+08:00", "2026-01-01T17:00:00Z", true)] // 17:00-01:00 UTC
    [InlineData("01:00:00+08:00", "09:00:00+08:00", "2026-01-01T00:59:59Z", true)]
    [InlineData("01:00:00+08:00", "09:00:00+08:00", "2026-01-01T01:00:00Z", false)]
    public void TimeOfDayWindows_AreUtc_StartInclusive_EndExclusive(string start, string end, string at, bool expected)
    {
        var window = new TimeOfDayConstraint(start, end);
        var catalogModel = new CatalogModel("m", MatchRule.Equal("m"),
        [
            new PriceEntry(null, new PriceTable(new Dictionary<string, PriceValue> { ["input_mtok"] = 1m })),
            new PriceEntry(window, new PriceTable(new Dictionary<string, PriceValue> { ["input_mtok"] = 2m })),
        ]);

        PriceEntry chosen = catalogModel.PriceAt(DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(expected, chosen.Constraint is not null);
    }

    [Theory]
    [InlineData("25:00:00Z")]
    [InlineData("10:00")]
    [InlineData("10:00:00+24:00")]
    public void InvalidTimes_AreRejected(string time)
    {
        Assert.False(TimeOfDayConstraint.IsValid(time));
        Assert.Throws<CatalogFormatException>(() => new TimeOfDayConstraint(time, "00:00:00Z"));
    }
}
