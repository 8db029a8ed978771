using LlmCost.Core.Budgets;
using LlmCost.Storage.Budgets;

namespace LlmCost.Functions.Apis.Budgets;

/// <summary>
/// The budgets module's settings (<c>LlmCost:Budgets</c>), bound and checked at start-up like every other options
/// type; <see cref="ToOptions"/> and <see cref="ToLedgerOptions"/> give Core and the store their typed settings.
/// </summary>
public sealed class BudgetSettings
{
    public double ReservationTtlSeconds { get; set; } = 600;
    public double MaxReservationTtlSeconds { get; set; } = 86_400;
    public double DefinitionCacheSeconds { get; set; } = 5;
    public double AppliedEventRetentionDays { get; set; } = 7;
    public double ReservationRetentionDays { get; set; } = 35;

    /// <summary>How long an authorisation keeps adding usage this instance acknowledged and the ledger has not counted.</summary>
    public double UnappliedSpendHorizonSeconds { get; set; } = 30;

    /// <summary>The deployment's default monthly budget (strings on purpose, see <see cref="BudgetDefaultsOptions"/>).</summary>
    public BudgetDefaultsOptions Defaults { get; set; } = new();

    public LedgerSettings Ledger { get; set; } = new();

    /// <summary>Extra (cross-provider) downgrade candidates: <c>DowngradeModels:anthropic:0 = "claude-3-5-haiku-latest"</c>, ...</summary>
    public Dictionary<string, List<string>> DowngradeModels { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting that is out of range.</summary>
    public void Validate()
    {
        var options = ToOptions();
        if (options.ReservationTtl <= TimeSpan.Zero || options.ReservationTtl > options.MaxReservationTtl || options.DefinitionCacheTtl < TimeSpan.Zero)
        {
            throw new ArgumentException("ReservationTtlSeconds must be positive and at most MaxReservationTtlSeconds, and DefinitionCacheSeconds not negative.");
        }

        if (options.UnappliedSpendHorizon <= TimeSpan.Zero)
        {
            throw new ArgumentException("UnappliedSpendHorizonSeconds must be positive.");
        }

        // A marker or a closed reservation must outlive every reservation that could still be settled.
        if (options.AppliedEventRetention < options.MaxReservationTtl || options.ReservationRetention < options.MaxReservationTtl + TimeSpan.FromDays(1))
        {
            throw new ArgumentException("AppliedEventRetentionDays must be at least MaxReservationTtlSeconds and ReservationRetentionDays a day longer.");
        }

        if (Ledger is not { Lanes: >= 1 and <= LedgerLimits.MaxLanes, CommittersPerTenant: >= 1 and <= 16, CacheStalenessMilliseconds: >= 0 })
        {
            throw new ArgumentException($"Ledger:Lanes must be 1-{LedgerLimits.MaxLanes}, Ledger:CommittersPerTenant 1-16, Ledger:CacheStalenessMilliseconds not negative.");
        }
    }

    public BudgetOptions ToOptions()
    {
        DefaultMonthlyBudget? defaults;
        try
        {
            defaults = Defaults.Resolve();
        }
        catch (InvalidOperationException ex)
        {
            // Resolve names the full setting (LlmCost:Budgets:Defaults:…).
            throw new ArgumentException(ex.Message, ex);
        }

        return new BudgetOptions
        {
            DefaultMonthly = defaults,
            ReservationTtl = TimeSpan.FromSeconds(ReservationTtlSeconds),
            MaxReservationTtl = TimeSpan.FromSeconds(MaxReservationTtlSeconds),
            DefinitionCacheTtl = TimeSpan.FromSeconds(DefinitionCacheSeconds),
            AppliedEventRetention = TimeSpan.FromDays(AppliedEventRetentionDays),
            ReservationRetention = TimeSpan.FromDays(ReservationRetentionDays),
            UnappliedSpendHorizon = TimeSpan.FromSeconds(UnappliedSpendHorizonSeconds),
        };
    }

    public TableBudgetStoreOptions ToLedgerOptions() => new()
    {
        Lanes = Ledger.Lanes,
        CommittersPerTenant = Ledger.CommittersPerTenant,
        CacheStaleness = TimeSpan.FromMilliseconds(Ledger.CacheStalenessMilliseconds),
    };

    public IReadOnlyDictionary<string, IReadOnlyList<string>> Downgrades() =>
        DowngradeModels.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value.Where(m => !string.IsNullOrEmpty(m)).ToList(), StringComparer.OrdinalIgnoreCase);

    /// <summary>The Table Storage ledger's tuning (<c>LlmCost:Budgets:Ledger</c>).</summary>
    public sealed class LedgerSettings
    {
        public int Lanes { get; set; } = LedgerLimits.DefaultLanes;
        public int CommittersPerTenant { get; set; } = 3;
        public double CacheStalenessMilliseconds { get; set; } = 1000;
    }
}
