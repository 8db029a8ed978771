using Azure.Data.Tables;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Rollups;
using LlmCost.Core.Usage;
using LlmCost.Storage.Operations;
using LlmCost.Storage.Tests.Operations;
using LlmCost.Storage.Recording;

namespace LlmCost.Storage.Tests.Recording;

/// <summary>The usage codec of every row: all units in, all units out, within Table Storage's limits.</summary>
public sealed class UnitColumnsTests
{
    private static CanonicalUsage EveryUnit()
    {
        var builder = new CanonicalUsage.Builder();
        foreach (UsageUnit unit in UsageUnits.All)
        {
            builder.Set(unit, 1_000 + unit.Index);
        }

        return builder.Build();
    }

    private static UsageEvent Event(CanonicalUsage usage) => new()
    {
        EventId = "e1", TenantId = "t", UserId = "u", Provider = "openai", Model = "gpt-4o",
        Timestamp = new DateTimeOffset(2026, 6, 1, 10, 0, 0, TimeSpan.Zero), Usage = usage, CostUsd = 0.25m, Priced = true,
        ReportedCostUsd = 0.2625m, RecordedAt = new DateTimeOffset(2026, 6, 1, 10, 0, 1, TimeSpan.Zero),
    };

    [Fact]
    public void EventRow_WithEveryUnit_RoundTrips_FarBelowThePropertyLimit()
    {
        TableEntity entity = UsageRows.EventEntity("t|u|20260601", Event(EveryUnit()));

        Assert.True(entity.Count < 252 - 10, $"{entity.Count} properties");
        UsageEvent read = UsageRows.ToEvent(entity);
        Assert.Equal(EveryUnit(), read.Usage);
        Assert.Equal(0.2625m, read.ReportedCostUsd);
        Assert.Equal(0.0125m, read.ReportedCostDifferenceUsd);
    }

    [Fact]
    public void EventRow_WritesOnlyNonZeroNewUnits()
    {
        CanonicalUsage usage = new CanonicalUsage { InputTokens = 10, OutputTokens = 1290 }.With(UsageUnits.Get("output_image_tokens"), 1290);

        TableEntity entity = UsageRows.EventEntity("t|u|20260601", Event(usage) with { ReportedCostUsd = null });

        Assert.Equal(1290L, entity["U_output_image_tokens"]);
        Assert.Single(entity.Keys, k => k.StartsWith(UnitColumns.Prefix, StringComparison.Ordinal));
        Assert.Equal(0L, entity["CacheReadTokens"]); // the historic columns stay, for older readers
        Assert.False(entity.ContainsKey("ReportedCostUsd"));
    }

    [Fact]
    public void TotalsRow_WithEveryUnitAndReportedCost_RoundTrips()
    {
        UsageTotals totals = UsageTotals.Of(Event(EveryUnit())) + UsageTotals.Of(Event(EveryUnit()) with { Priced = false, CostUsd = 0m });

        TableEntity entity = UsageRows.WithTotals(new TableEntity("p", "~day"), totals, seq: 3);

        Assert.True(entity.Count < 252 - 10, $"{entity.Count} properties");
        Assert.Equal(totals, UsageRows.Totals(entity));
    }

    [Fact]
    public void ARowFromANewerVersion_WithAUnitThisOneDoesNotKnow_IsReadWithoutIt()
    {
        TableEntity entity = UsageRows.EventEntity("t|u|20260601", Event(new CanonicalUsage { InputTokens = 5 }));
        entity["U_input_smell_tokens"] = 7L;

        Assert.Equal(new CanonicalUsage { InputTokens = 5 }, UsageRows.ToEvent(entity).Usage);
    }

    [Fact]
    public async Task RollupRows_CarryEveryUnitAndTheReportedCost()
    {
        var store = new TableRollupStore(await OpsStorage.CreateAsync());
        var hour = new DateTimeOffset(2026, 6, 1, 10, 0, 0, TimeSpan.Zero);
        CanonicalUsage units = new CanonicalUsage { InputTokens = 2000, OutputTokens = 1290, Requests = 0 }
            .With(UsageUnits.Get("output_image_tokens"), 1290).With(UsageUnits.Get("input_document_pages"), 4);
        var row = new RollupRow
        {
            TenantId = "tu", Granularity = RollupGranularity.Hour, PeriodStart = hour, Dimension = "model", Key = "google/gemini-2.5-flash-image",
            Requests = 2, InputTokens = 2000, OutputTokens = 1290, CostUsd = 0.0774m, Units = units,
            ReportedCostEvents = 2, ReportedCostUsd = 0.08m, ReportedCostDifferenceUsd = 0.0026m, ReportedCostComparedUsd = 0.0774m,
        };

        await store.ReplacePeriodAsync("tu", RollupGranularity.Hour, hour, [row]);
        RollupRow read = Assert.Single(await store.ReadAsync("tu", RollupGranularity.Hour, hour, hour.AddHours(1)));

        Assert.Equal(row, read);
    }
}
