using System.Globalization;
using System.Text.Json;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Reports;

/// <summary>
/// Recorded usage as FinOps FOCUS (FinOps Open Cost and Usage Specification, 1.2 column names) cost and usage rows,
/// so FinOps tools take LLM spend next to cloud spend. One row per UTC day, provider, model, team and user: the
/// grain the stored hour buckets keep. Columns FOCUS defines are named as it names them; what it has no column for
/// is an <c>x_</c> column, as the specification asks of custom columns.
/// </summary>
/// <remarks>
/// The cost columns all carry the cost as recorded (the catalog price with the tenant's overrides applied): the
/// list price before overrides is not kept per event, and LLM usage has no commitments or amortisation, so BilledCost,
/// EffectiveCost, ListCost and ContractedCost are equal. Calls that could not be priced count 0 in the cost columns
/// and are counted in <c>x_UnpricedRequests</c>, never hidden in a zero.
/// </remarks>
public static class FocusCostRows
{
    public static IReadOnlyList<string> Columns { get; } =
    [
        "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
        "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
        "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost",
        "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ResourceId", "ResourceName",
        "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "SubAccountId", "SubAccountName",
        "Tags", "x_Requests", "x_UnpricedRequests", "x_ErrorRequests", "x_InputTokens", "x_OutputTokens", "x_CacheReadTokens",
        "x_UserId", "x_TeamId",
    ];

    /// <summary>The rows of the buckets in [from, to), in a stable order (day, provider, model, team, user); each row's fields in <see cref="Columns"/> order.</summary>
    public static IEnumerable<IReadOnlyList<string>> Rows(string tenantId, IEnumerable<UsageBucket> buckets, DateTimeOffset from, DateTimeOffset to)
    {
        ArgumentNullException.ThrowIfNull(buckets);
        var days = new Dictionary<(DateTimeOffset Day, string Provider, string Model, string Team, string User), UsageTotals>();
        foreach (UsageBucket b in buckets)
        {
            if (b.HourStart < from || b.HourStart >= to)
            {
                continue;
            }

            var key = (UsageQuery.PeriodStart(b.HourStart, UsageGranularity.Day), b.Provider, b.Model, b.TeamId ?? string.Empty, b.UserId);
            days[key] = days.TryGetValue(key, out UsageTotals? sum) ? sum + b.Totals : b.Totals;
        }

        foreach (var ((day, provider, model, team, user), t) in days
                     .OrderBy(d => d.Key.Day).ThenBy(d => d.Key.Provider, StringComparer.Ordinal).ThenBy(d => d.Key.Model, StringComparer.Ordinal)
                     .ThenBy(d => d.Key.Team, StringComparer.Ordinal).ThenBy(d => d.Key.User, StringComparer.Ordinal))
        {
            string cost = MoneyFormat.Format(t.CostUsd);
            long tokens = checked(t.InputTokens + t.OutputTokens);
            DateTimeOffset month = UsageQuery.PeriodStart(day, UsageGranularity.Month);
            string resource = provider + "/" + model;
            var tags = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["llmcost_user"] = user };
            if (team.Length > 0)
            {
                tags["llmcost_team"] = team;
            }

            yield return
            [
                cost, tenantId, tenantId, "USD", Time(month.AddMonths(1)), Time(month),
                "Usage", string.Empty, $"{model} usage", "Usage-Based", Time(day.AddDays(1)), Time(day),
                Count(tokens), "Tokens", cost, cost, provider, cost,
                "Standard", Count(tokens), "Tokens", provider, provider, resource, model,
                "Model", "AI and Machine Learning", provider, "Generative AI", resource,
                team.Length > 0 ? team : tenantId, team.Length > 0 ? team : tenantId,
                JsonSerializer.Serialize(tags), Count(t.Events), Count(t.UnpricedEvents), Count(t.ErrorEvents), Count(t.InputTokens),
                Count(t.OutputTokens), Count(t.CacheReadTokens), user, team,
            ];
        }
    }

    private static string Time(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Count(long value) => value.ToString(CultureInfo.InvariantCulture);
}
