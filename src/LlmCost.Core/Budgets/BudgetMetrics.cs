using System.Diagnostics.Metrics;

namespace LlmCost.Core.Budgets;

/// <summary>
/// The budgets' instruments on the service's meter ("LlmCost"; the host exports it with OpenTelemetry):
/// decisions by outcome, how long reservations lived and how they ended, settlements that arrived after their
/// reservation closed, overspend, and the optimistic-concurrency conflicts and transactions of the ledger.
/// </summary>
public static class BudgetMetrics
{
    public const string MeterName = "LlmCost";

    private static readonly Meter Meter = new(MeterName);

    public static Counter<long> Decisions { get; } =
        Meter.CreateCounter<long>("llmcost.budget.decisions", "{decision}", "Budget authorisations by outcome (allow, deny, downgrade).");

    public static Histogram<double> ReservationAge { get; } =
        Meter.CreateHistogram<double>("llmcost.budget.reservation.age", "s", "Age of a reservation when it ended (settled, expired, released).");

    public static Counter<long> LateSettlements { get; } =
        Meter.CreateCounter<long>("llmcost.budget.late_settlements", "{event}", "Events that settled a reservation after it had expired or been released (their cost still counts).");

    public static Counter<long> Overspends { get; } =
        Meter.CreateCounter<long>("llmcost.budget.overspends", "{alert}", "Enforced budgets whose actual spend passed their limit (alerted once per period).");

    public static Counter<long> Conflicts { get; } =
        Meter.CreateCounter<long>("llmcost.budget.conflicts", "{conflict}", "Ledger transactions that lost an ETag race (412/409) and were re-applied.");

    public static Counter<long> Transactions { get; } =
        Meter.CreateCounter<long>("llmcost.budget.transactions", "{transaction}", "Ledger transactions committed.");

    public static Counter<long> Commands { get; } =
        Meter.CreateCounter<long>("llmcost.budget.commands", "{command}", "Ledger commands committed (a transaction carries several).");

    public static Counter<long> Unavailable { get; } =
        Meter.CreateCounter<long>("llmcost.budget.unavailable", "{failure}", "Ledger writes that failed without a decision (answered 503).");
}
