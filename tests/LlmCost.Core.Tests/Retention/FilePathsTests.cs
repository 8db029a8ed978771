using LlmCost.Core.Retention;

namespace LlmCost.Core.Tests.Retention;

/// <summary>Which archive and report paths are safe: ids outside the BMP are names like any other; broken ones are not.</summary>
public sealed class FilePathsTests
{
    [Theory]
    [InlineData("archive/acme/2026/03/15.jsonl.gz", true)]
    [InlineData("archive/\U000EC5FD\U00100CAE/2026/03/15.jsonl.gz", true)] // supplementary characters (surrogate pairs)
    [InlineData("archive/t%7Cx/2026/03/15.jsonl.gz", true)]
    [InlineData("archive/../x", false)]
    [InlineData("archive//x", false)]
    [InlineData("archive/a\\b/x", false)]
    [InlineData("archive/a\u0001/x", false)]
    public void A_path_is_safe_when_every_segment_is_a_plain_well_formed_name(string path, bool safe) =>
        Assert.Equal(safe, FilePaths.IsSafe(path));

    [Fact]
    public void A_lone_or_reversed_surrogate_is_not_safe()
    {
        // Built at run time: an attribute argument cannot carry a lone surrogate (metadata is UTF-8).
        var high = ((char)0xDB71).ToString();
        var low = ((char)0xDDFD).ToString();
        Assert.False(FilePaths.IsSafe($"archive/{high}/2026/03/15.jsonl.gz"));
        Assert.False(FilePaths.IsSafe($"archive/a{low}/2026/03/15.jsonl.gz"));
        Assert.False(FilePaths.IsSafe($"archive/{low}{high}/x"));
        Assert.True(FilePaths.IsSafe($"archive/{high}{low}/x"));
    }
}
