using System.Text;
using LlmCost.Core.Recording;
using LlmCost.Core.Retention;

namespace LlmCost.Core.Tests.Security;

public sealed class InputRulesTests
{
    [Theory]
    [InlineData("{\"role\":\"reader\",\"role\":\"admin\"}", "role")]
    [InlineData("{\"role\":\"reader\",\"Role\":\"admin\"}", "Role")]
    [InlineData("{\"raw_usage\":{\"prompt_tokens\":1,\"prompt_tokens\":9}}", "raw_usage.prompt_tokens")]
    [InlineData("{\"events\":[{\"a\":1},{\"usage\":{\"input_tokens\":1,\"input_tokens\":2}}]}", "events[1].usage.input_tokens")]
    [InlineData("{\"tags\":{\"env\":\"a\",\"\\u0065nv\":\"b\"}}", "tags.env")]
    [InlineData("{\"a\":[[{\"b\":1,\"b\":1}]]}", "a[0][0].b")]
    public void DuplicateKeysAtAnyDepthAreRefusedNamingTheKey(string json, string field)
    {
        var problem = JsonInputPolicy.Check(Encoding.UTF8.GetBytes(json));
        Assert.NotNull(problem);
        Assert.Equal(field, problem.Field);
        Assert.Contains("more than once", problem.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"user_id\":\"\\ud800\"}", "user_id")]
    [InlineData("{\"usage\":{\"x\":\"a\\udc00\"}}", "usage.x")]
    [InlineData("{\"events\":[{},{\"model\":\"\\ud83d\"}]}", "events[1].model")]
    [InlineData("[\"\\udfff\\ud800\"]", "[0]")]
    public void LoneSurrogatesAreRefusedNamingTheField(string json, string field)
    {
        var problem = JsonInputPolicy.Check(Encoding.UTF8.GetBytes(json));
        Assert.Equal(field, problem?.Field);
    }

    [Fact]
    public void InvalidUtf8DepthAndSyntaxAreRefusedAndGoodJsonPasses()
    {
        Assert.Equal("user_id", JsonInputPolicy.Check([.. "{\"user_id\":\""u8, 0xFF, .. "\"}"u8])?.Field);
        Assert.Contains("deeper", JsonInputPolicy.Check(Encoding.UTF8.GetBytes(new string('[', 40) + new string(']', 40)))!.Message, StringComparison.Ordinal);
        Assert.Equal("body", JsonInputPolicy.Check("{\"a\":1,}"u8)?.Field);
        Assert.Null(JsonInputPolicy.Check("{\"a\":{\"b\":[1,{\"c\":\"\\ud83d\\ude00\"}]},\"b\":{\"b\":1}}"u8));
    }

    [Theory]
    [InlineData("$.cooldown_minutes", "cooldown_minutes")]
    [InlineData("$.events[3].usage", "events[3].usage")]
    [InlineData("$['odd key'].x", "odd key.x")]
    [InlineData("$", "body")]
    [InlineData(null, "body")]
    public void JsonPathsBecomeFieldNames(string? path, string field) => Assert.Equal(field, JsonInputPolicy.FieldFromPath(path));

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("...")]
    public void DotOnlyIdsAreRefused(string id) => Assert.NotNull(RecordKeys.Problem(id));

    [Theory]
    [InlineData("a.b")]
    [InlineData(".hidden")]
    [InlineData("acme.")]
    public void IdsWithDotsAndOtherCharactersStayValid(string id) => Assert.Null(RecordKeys.Problem(id));

    [Theory]
    [InlineData("reports/acme/2026/03/16/daily.csv", true)]
    [InlineData("reports/acme/%2e%2e/x", true)]
    [InlineData("reports/acme/./x", false)]
    [InlineData("reports/acme/../globex/x", false)]
    [InlineData("reports/acme//x", false)]
    [InlineData("reports/acme/x/", false)]
    [InlineData("reports/acme/a\\..\\b", false)]
    [InlineData("reports/acme/x\u0000", false)]
    [InlineData("reports/acme/", false)]
    [InlineData("reports/acmeX/x", false)]
    [InlineData("reports/acme/.../x", false)]
    public void FilePathsAreCheckedSegmentBySegment(string path, bool safe) => Assert.Equal(safe, FilePaths.IsSafeUnder(path, "reports/acme/"));

    [Fact]
    public void ArchivesMergeByEventIdAndNeverLoseALine()
    {
        static ArchiveLine Line(string id, int v) => new(id, "u", $"{{\"event_id\":\"{id}\",\"user_id\":\"u\",\"v\":{v}}}");
        var existing = new[] { Line("b", 1), Line("a", 1) };
        var added = new[] { Line("b", 2), Line("c", 2) };
        var merged = EventArchive.Merge(existing, added);
        Assert.Equal(["a", "b", "c"], merged.Select(l => l.EventId));
        Assert.Contains("\"v\":1", merged[1].Json, StringComparison.Ordinal); // what was archived first wins
        Assert.Equal(merged, EventArchive.ReadLines(EventArchive.WriteLines(merged.Select(l => l.Json))));
    }
}
