using LlmCost.Hosting;

namespace LlmCost.Hosting.Tests;

/// <summary><c>LlmCost:Hosting</c> timings storage would refuse (or that would spin) stop the host at start.</summary>
public class CustomHandlerOptionsTests
{
    [Fact]
    public void The_defaults_and_the_test_suites_settings_are_valid()
    {
        Assert.True(new CustomHandlerOptions().IsValid());
        Assert.True(new CustomHandlerOptions { QueueVisibilityTimeout = TimeSpan.Zero, QueueMaxPollingInterval = TimeSpan.FromMilliseconds(200) }.IsValid());
    }

    [Theory]
    [InlineData(14)]
    [InlineData(61)]
    public void A_timer_lease_outside_the_blob_lease_range_is_refused(int seconds) =>
        Assert.False(new CustomHandlerOptions { TimerLeaseDuration = TimeSpan.FromSeconds(seconds) }.IsValid());

    [Fact]
    public void A_zero_polling_interval_or_an_out_of_range_visibility_is_refused()
    {
        Assert.False(new CustomHandlerOptions { QueueMaxPollingInterval = TimeSpan.Zero }.IsValid());
        Assert.False(new CustomHandlerOptions { QueueVisibilityTimeout = TimeSpan.FromSeconds(-1) }.IsValid());
        Assert.False(new CustomHandlerOptions { QueueProcessingVisibility = TimeSpan.FromDays(8) }.IsValid());
    }
}
