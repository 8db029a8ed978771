using LlmCost.Functions.Apis.Budgets;
using LlmCost.Functions.Apis.Operations;

namespace LlmCost.Functions.Tests.Hosting;

/// <summary>The settings checks run at start-up (ValidateOnStart): each refuses what would fail later, naming it.</summary>
public class SettingsValidationTests
{
    [Fact]
    public void Budget_settings_turn_into_the_options_Core_and_the_store_take()
    {
        var settings = new BudgetSettings { ReservationTtlSeconds = 30, Ledger = new() { Lanes = 4, CacheStalenessMilliseconds = 250 } };
        settings.DowngradeModels["Anthropic"] = ["claude-3-5-haiku-latest", ""];

        settings.Validate();

        Assert.Equal(TimeSpan.FromSeconds(30), settings.ToOptions().ReservationTtl);
        Assert.Equal((4, TimeSpan.FromMilliseconds(250)), (settings.ToLedgerOptions().Lanes, settings.ToLedgerOptions().CacheStaleness));
        Assert.Equal(["claude-3-5-haiku-latest"], settings.Downgrades()["anthropic"]);
    }

    [Theory]
    [InlineData(0, 86_400, 7, 1, "ReservationTtlSeconds")]
    [InlineData(600, 300, 7, 1, "ReservationTtlSeconds")]
    [InlineData(600, 86_400, 0.5, 1, "AppliedEventRetentionDays")]
    [InlineData(600, 86_400, 7, 0, "Ledger:Lanes")]
    public void Budget_settings_out_of_range_are_refused_naming_the_setting(double ttl, double maxTtl, double markerDays, int lanes, string setting)
    {
        var settings = new BudgetSettings { ReservationTtlSeconds = ttl, MaxReservationTtlSeconds = maxTtl, AppliedEventRetentionDays = markerDays, Ledger = new() { Lanes = lanes } };

        var error = Assert.Throws<ArgumentException>(settings.Validate);

        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_default_budget_is_refused_naming_the_full_setting()
    {
        var settings = new BudgetSettings { Defaults = new() { MonthlyLimitUsd = "10", Enforcement = "strict" } };

        var error = Assert.Throws<ArgumentException>(settings.Validate);

        Assert.Contains("LlmCost:Budgets:Defaults:Enforcement", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Alert_delivery_settings_out_of_range_are_refused()
    {
        Assert.True(new AlertDeliveryOptions().IsValid());
        Assert.True(new AlertDeliveryOptions { SmtpSecurity = "StartTls", RetryAttempts = 0 }.IsValid());
        Assert.False(new AlertDeliveryOptions { SmtpPort = 0 }.IsValid());
        Assert.False(new AlertDeliveryOptions { SmtpSecurity = "tls1.0" }.IsValid());
        Assert.False(new AlertDeliveryOptions { RetryAttempts = -1 }.IsValid());
        Assert.False(new AlertDeliveryOptions { HttpTimeout = TimeSpan.Zero }.IsValid());
    }
}
