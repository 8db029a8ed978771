using LlmCost.Core.Alerts;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Budgets;

/// <summary>
/// Lets the budgets' spent figures follow a re-pricing: every intent (the old and new costs of the events one
/// rewrite transaction changed) moves the spend of each open period state that counted those events by the
/// difference. Closed periods keep the figures they closed with (their alerts and decisions are history).
/// </summary>
public sealed class BudgetRepricingObserver(IBudgetRepository definitions, IBudgetLedger ledger) : IRepricingObserver
{
    public async Task OnRepricedAsync(IReadOnlyList<RepricingIntent> intents, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(intents);
        foreach (var tenant in intents.GroupBy(i => i.Partition.TenantId, StringComparer.Ordinal))
        {
            // Read from storage, not a cache: a budget created a moment ago must see its share.
            var budgets = await definitions.ListAsync(tenant.Key, cancellationToken).ConfigureAwait(false);
            if (!budgets.Any(b => b.IsStateful))
            {
                continue;
            }

            await Task.WhenAll(tenant.Select(i => ledger.ExecuteAsync(new RepriceSpendCommand(i, budgets), cancellationToken))).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// Moves the spent figure of every open period state that counted an intent's events from their old cost to their
/// new one, once per intent: its marker (an applied-event marker under an id no event can have, since event ids
/// never start with '~') is written in the same transaction, so a rerun after a crash applies nothing twice.
/// States that do not exist yet are left alone: when one is created its seed reads the summaries, which already
/// carry the new prices.
/// </summary>
public sealed class RepriceSpendCommand(RepricingIntent intent, IReadOnlyList<BudgetDefinition> tenantBudgets) : LedgerCommand
{
    public RepricingIntent Intent { get; } = intent;
    public override string TenantId => Intent.Partition.TenantId;

    /// <summary>True when the last application changed spend (false: already applied, or no open state counted the events).</summary>
    public bool Applied { get; private set; }

    /// <summary>True when the intent had been applied before.</summary>
    public bool Duplicate { get; private set; }

    public List<Alert> Alerts { get; } = [];

    /// <summary>The marker and a main row per budget (lanes only when spend grew past the pool).</summary>
    public override int EstimatedRows => 1 + tenantBudgets.Count(b => b.IsStateful);

    /// <summary>The marker's id: event ids never start with '~', so it is nobody else's.</summary>
    public static string MarkerKey(RepricingIntent intent)
    {
        ArgumentNullException.ThrowIfNull(intent);
        var day = new DateTimeOffset(intent.Partition.Day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        return BudgetKeys.AppliedEvent("~repricing-" + intent.IntentId, day);
    }

    public override IEnumerable<string> RequiredKeys(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Deltas(context.Now).Keys.Prepend(MarkerKey(Intent));
    }

    public override void Apply(LedgerPartition partition, LedgerContext context)
    {
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(context);
        Applied = false;
        Duplicate = false;
        Alerts.Clear();
        var marker = MarkerKey(Intent);
        if (!partition.RequireFresh([marker]))
        {
            return;
        }

        if (partition.AppliedEvents.ContainsKey(marker))
        {
            Duplicate = true;
            return;
        }

        var deltas = Deltas(context.Now);
        if (!partition.Require(deltas.Keys))
        {
            return;
        }

        var views = new List<(StateView View, Delta Delta)>();
        foreach (var (key, delta) in deltas)
        {
            if (partition.States.TryGetValue(key, out var state))
            {
                views.Add((new StateView(delta.Budget, state, null), delta));
            }
        }

        if (!RebaseOutdated(partition, views.Select(v => v.View)))
        {
            return;
        }

        foreach (var (view, delta) in views)
        {
            view.State.Reprice(delta.Usd, delta.Unpriced);
            partition.Changed.Add(view.State.Key);
            var overcommitted = 0m;
            // Spend that grew past the pool takes the lanes' free grant back, as a settlement's overrun does.
            if (view.Enforced && !SettleCommand.CoverDeficit(partition, view, out overcommitted))
            {
                return;
            }

            Alerts.AddRange(BudgetAlerts.Evaluate(view.Budget, view.State, context.Now, overcommitted: overcommitted));
        }

        partition.AppliedEvents[marker] = context.Now;
        partition.NewEventMarkers[marker] = context.Now;
        partition.AddAlerts(Alerts);
        Applied = views.Count > 0;
    }

    private sealed record Delta(BudgetDefinition Budget, decimal Usd, long Unpriced);

    /// <summary>The change of spend per open period state, by state key.</summary>
    private Dictionary<string, Delta> Deltas(DateTimeOffset now)
    {
        var deltas = new Dictionary<string, Delta>(StringComparer.Ordinal);
        foreach (var change in Intent.Changes)
        {
            var usd = change.NewCostUsd - change.OldCostUsd;
            var unpriced = (change.NewPriced ? 0 : 1) - (change.OldPriced ? 0 : 1);
            if (usd == 0m && unpriced == 0)
            {
                continue;
            }

            foreach (var budget in BudgetService.Applicable(tenantBudgets, Intent.Partition.UserId, change.TeamId, change.KeyId))
            {
                if (BudgetPeriodCalculator.WindowFor(budget, change.Timestamp) is not { } window || window.End <= now)
                {
                    continue;
                }

                var key = BudgetKeys.State(budget.BudgetId, budget.SubjectFor(Intent.Partition.UserId), window.Key);
                deltas[key] = deltas.TryGetValue(key, out var d) ? d with { Usd = d.Usd + usd, Unpriced = d.Unpriced + unpriced } : new Delta(budget, usd, unpriced);
            }
        }

        return deltas;
    }
}
