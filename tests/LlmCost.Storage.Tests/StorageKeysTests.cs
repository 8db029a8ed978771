namespace LlmCost.Storage.Tests;

public sealed class StorageKeysTests
{
    [Fact]
    public void UserDayPartitionIsTenantUserAndUtcDay()
    {
        // 23:30 at UTC-05:00 is 04:30 the next day in UTC: the partition is the UTC day.
        var timestamp = new DateTimeOffset(2025, 3, 9, 23, 30, 0, TimeSpan.FromHours(-5));
        Assert.Equal("acme|alice|20250310", StorageKeys.UserDayPartition("acme", "alice", timestamp));
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("a#b")]
    [InlineData("a?b")]
    [InlineData("a\tb")]
    [InlineData("a\u007Fb")]
    [InlineData("a\u0085b")]
    [InlineData("a|b")]
    [InlineData("")]
    public void ForbiddenIdsAreRejected(string id)
    {
        Assert.Throws<ArgumentException>(() => StorageKeys.UserDayPartition(id, "alice", new DateOnly(2025, 1, 1)));
    }

    [Fact]
    public void TooLongIdsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => StorageKeys.UserDayPartition(new string('a', 129), "alice", new DateOnly(2025, 1, 1)));
    }

    [Theory]
    [InlineData("meta-llama/Llama-3.1-8B", "meta-llama%2FLlama-3.1-8B")]
    [InlineData("a|b%c~d#e?f\\g", "a%7Cb%25c%7Ed%23e%3Ff%5Cg")]
    [InlineData("gpt-4o", "gpt-4o")]
    [InlineData("modèle\u0001", "modèle%01")]
    public void EscapeIsReversibleAndKeySafe(string text, string expected)
    {
        string escaped = StorageKeys.Escape(text);
        Assert.Equal(expected, escaped);
        StorageKeys.EnsureKey(escaped, "key");
        Assert.Equal(text, StorageKeys.Unescape(escaped));
    }

    [Fact]
    public void ParsesItsOwnPartitionKeys()
    {
        Assert.True(StorageKeys.TryParseUserDayPartition("acme|alice|20250310", out string tenant, out string user, out DateOnly day));
        Assert.Equal(("acme", "alice", new DateOnly(2025, 3, 10)), (tenant, user, day));
        Assert.False(StorageKeys.TryParseUserDayPartition("acme|20250310", out _, out _, out _));
    }
}
