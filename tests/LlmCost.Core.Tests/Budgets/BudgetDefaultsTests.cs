using LlmCost.Core.Budgets;

namespace LlmCost.Core.Tests.Budgets;

/// <summary>The <c>LlmCost:Budgets:Defaults</c> settings: validation, and how the default joins the applicable budgets.</summary>
public sealed class BudgetDefaultsTests
{
    private const string Tenant = "acme";

    private static BudgetDefinition Stored(BudgetScope scope, string scopeId, string id) => new()
    {
        BudgetId = id,
        TenantId = Tenant,
        Scope = scope,
        ScopeId = scopeId,
        AmountUsd = 5m,
        Period = BudgetPeriod.Daily,
        Mode = BudgetMode.Hard,
        CreatedAt = DateTimeOffset.Parse("2026-06-01T00:00:00Z"),
    };

    [Fact]
    public void The_deployment_template_values_become_a_monthly_every_user_budget()
    {
        // The values infra-bicep/main.bicep writes by default.
        var resolved = new BudgetDefaultsOptions { MonthlyLimitUsd = "1000", AlertThresholdsPercent = "50,80,100", Enforcement = "soft" }.Resolve();

        Assert.NotNull(resolved);
        var budget = resolved.For(Tenant);
        Assert.Equal(1000m, budget.AmountUsd);
        Assert.Equal(BudgetMode.Soft, budget.Mode);
        Assert.Equal([50m, 80m, 100m], budget.ThresholdPercents);
        Assert.Equal(BudgetPeriod.Monthly, budget.Period);
        Assert.Equal(PeriodAlignment.Calendar, budget.Alignment);
        Assert.Equal("UTC", budget.TimeZone);
        Assert.True(budget.AppliesToEveryUser);
        // Stable per tenant, and its tenant is readable from the id like any budget id.
        Assert.Equal(budget.BudgetId, resolved.For(Tenant).BudgetId);
        Assert.EndsWith(".default-monthly", budget.BudgetId, StringComparison.Ordinal);
        Assert.True(BudgetValidator.TryGetTenant(budget.BudgetId, out var tenant));
        Assert.Equal(Tenant, tenant);
        Assert.NotEqual(budget.BudgetId, resolved.For("other").BudgetId);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("0.00")]
    public void No_or_zero_limit_means_no_default_budget(string? limit) =>
        Assert.Null(new BudgetDefaultsOptions { MonthlyLimitUsd = limit, Enforcement = "hard" }.Resolve());

    [Theory]
    [InlineData("-5", null, null, "MonthlyLimitUsd")]
    [InlineData("ten", null, null, "MonthlyLimitUsd")]
    [InlineData("1e3", null, null, "MonthlyLimitUsd")]
    [InlineData("10", "strict", null, "Enforcement")]
    [InlineData("10", "1", null, "Enforcement")]
    [InlineData("10", "hard", "0,50", "AlertThresholdsPercent")]
    [InlineData("10", "hard", "50,1001", "AlertThresholdsPercent")]
    [InlineData("10", "hard", "50,,100", "AlertThresholdsPercent")]
    public void An_invalid_setting_fails_naming_it(string limit, string? enforcement, string? thresholds, string setting)
    {
        var options = new BudgetDefaultsOptions { MonthlyLimitUsd = limit, Enforcement = enforcement, AlertThresholdsPercent = thresholds };

        var error = Assert.Throws<InvalidOperationException>(() => options.Resolve());
        Assert.Contains("LlmCost:Budgets:Defaults:" + setting, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Enforcement_defaults_to_soft_and_thresholds_to_the_standard_set()
    {
        var resolved = new BudgetDefaultsOptions { MonthlyLimitUsd = "12.5" }.Resolve()!;

        Assert.Equal(12.5m, resolved.AmountUsd);
        Assert.Equal(BudgetMode.Soft, resolved.Mode);
        Assert.Equal([50m, 75m, 90m, 100m], resolved.ThresholdPercents);
    }

    [Fact]
    public void The_default_applies_to_a_user_without_budgets_but_not_over_an_own_or_every_user_budget()
    {
        var defaults = new DefaultMonthlyBudget(100m, BudgetMode.Hard, [100m]);
        var defaultId = DefaultMonthlyBudget.IdFor(Tenant);
        var tenantBudget = Stored(BudgetScope.Tenant, "*", "bgt.t.tenant");
        var bobsOwn = Stored(BudgetScope.User, "bob", "bgt.t.bob");

        // Only a tenant budget and bob's own: alice gets the default next to the tenant budget, bob does not.
        var all = defaults.AddTo([tenantBudget, bobsOwn], Tenant);
        Assert.Equal(["bgt.t.tenant", defaultId], BudgetService.Applicable(all, "alice", null, null).Select(b => b.BudgetId));
        Assert.Equal(["bgt.t.tenant", "bgt.t.bob"], BudgetService.Applicable(all, "bob", null, null).Select(b => b.BudgetId));

        // A profile's every-user budget replaces the default for everyone.
        var profile = Stored(BudgetScope.User, BudgetDefinition.EveryUser, "bgt.t.profile");
        var withProfile = defaults.AddTo([profile], Tenant);
        Assert.Equal(["bgt.t.profile"], BudgetService.Applicable(withProfile, "alice", null, null).Select(b => b.BudgetId));
    }
}
