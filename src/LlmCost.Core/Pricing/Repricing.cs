using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LlmCost.Core.Audit;
using LlmCost.Core.Recording;
using LlmCost.Core.Rollups;

namespace LlmCost.Core.Pricing;

/// <param name="From">First UTC day (inclusive).</param>
/// <param name="To">Last UTC day (inclusive).</param>
/// <param name="CatalogVersion">A published catalog version to price with; null = the one in force.</param>
public sealed record RepricingRequest(string TenantId, DateOnly From, DateOnly To, bool DryRun, string? CatalogVersion = null);

/// <summary>What repricing changes for one (provider, model): events, how many change, old and new totals.</summary>
public sealed record RepricingModelDiff(string Provider, string Model, long Events, long Changed, decimal OldCostUsd, decimal NewCostUsd);

public sealed record RepricingResult(
    string JobId,
    bool DryRun,
    string CatalogVersion,
    long Events,
    long Changed,
    decimal OldCostUsd,
    decimal NewCostUsd,
    IReadOnlyList<RepricingModelDiff> Models,
    int PartitionsRewritten,
    int PartitionsAlreadyDone,
    IReadOnlyList<string> Skipped);

/// <summary>The outcome of rewriting one user-day partition.</summary>
/// <param name="Skipped">Why the partition was left alone (its summary is not the sum of its events: archived or partial).</param>
/// <param name="Intents">
/// The changes of price written to the partition and not yet handed on (this run's and any a crashed run left):
/// what the budgets must still count.
/// </param>
public sealed record PartitionRewrite(int EventsRewritten, string? Skipped = null, IReadOnlyList<RepricingIntent>? Intents = null);

/// <summary>One event's change of price, as the budgets that counted it need it.</summary>
public sealed record RepricedCost(string? TeamId, string? KeyId, DateTimeOffset Timestamp, decimal OldCostUsd, decimal NewCostUsd, bool OldPriced, bool NewPriced);

/// <summary>
/// The changes of price of one rewrite transaction, stored in that same transaction: a crash after it can never
/// lose the fact that these events' costs changed, so the budgets that counted the old costs are corrected exactly
/// once (the id is the idempotency key) whenever the run, or a rerun, gets to it.
/// </summary>
public sealed record RepricingIntent(string IntentId, UserDay Partition, IReadOnlyList<RepricedCost> Changes);

/// <summary>Hears about re-priced events (the budgets: their spent figures follow the new prices).</summary>
public interface IRepricingObserver
{
    /// <summary>Applies the intents, each exactly once whatever how often it is called; throws when it cannot (the run stops and a rerun retries).</summary>
    Task OnRepricedAsync(IReadOnlyList<RepricingIntent> intents, CancellationToken cancellationToken = default);
}

/// <summary>What repricing needs from storage (Table Storage in production).</summary>
public interface IUsageRepricingStore
{
    /// <summary>
    /// Rewrites the events of one user-day whose pricing <paramref name="reprice"/> changes, with the day summary,
    /// hour buckets and their team/tenant copies, so the partition's summaries stay the sum of its events after
    /// every transaction. Idempotent: a rerun finds the rewritten events unchanged. Called again with fresh data
    /// after a concurrent write.
    /// </summary>
    Task<PartitionRewrite> RewriteAsync(UserDay partition, Func<UsageEvent, UsageEvent> reprice, CancellationToken cancellationToken = default);

    Task<bool> IsDoneAsync(string jobId, UserDay partition, CancellationToken cancellationToken = default);

    /// <summary>Removes the intents handed on, then records the partition as done for the job.</summary>
    Task MarkDoneAsync(string jobId, UserDay partition, IReadOnlyList<RepricingIntent> handedOn, CancellationToken cancellationToken = default);
}

/// <summary>
/// Re-prices a tenant's stored events with the catalog and policy now in force (or a named catalog version):
/// a dry run answers what would change per model; an apply rewrites event costs, day summaries, hour buckets,
/// team/tenant rows and rollups so every view adds up. Each event's new price is a pure function of its usage, its
/// timestamp and the terms, so applying twice, or rerunning after a crash halfway, gives the same rows; a
/// checkpoint per partition lets a rerun skip the partitions already done.
/// </summary>
public sealed class RepricingService(
    IUsageEventReader events,
    IUsageRepricingStore store,
    TenantPolicyCache terms,
    ICatalogStore catalogs,
    TimeProvider time,
    AuditTrail? audit = null,
    RollupRunner? rollups = null,
    TenantMonthToDate? monthToDate = null,
    IRepricingObserver? observer = null)
{
    public const int MaxDays = 93;

    /// <summary>Partitions rewritten at a time.</summary>
    public const int Parallelism = 8;

    /// <summary>Null when <see cref="RepricingRequest.CatalogVersion"/> names no published, valid version.</summary>
    public async Task<RepricingResult?> RunAsync(RepricingRequest request, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        CatalogVersion? catalog = await ResolveCatalogAsync(request.CatalogVersion, cancellationToken).ConfigureAwait(false);
        if (catalog is null)
        {
            return null;
        }

        // Read the period, partition by partition, and price every event afresh in time order (volume tiers see
        // the month-to-date of the NEW prices).
        var partitions = new List<(UserDay Partition, List<UsageEvent> Events)>();
        for (DateOnly day = request.From; day <= request.To; day = day.AddDays(1))
        {
            foreach (string user in await events.ListUsersAsync(request.TenantId, day, cancellationToken).ConfigureAwait(false))
            {
                var list = new List<UsageEvent>();
                await foreach (UsageEvent e in events.ReadUserDaysAsync(request.TenantId, user, day, day, cancellationToken).ConfigureAwait(false))
                {
                    list.Add(e);
                }

                partitions.Add((new UserDay(request.TenantId, user, day), list));
            }
        }

        Dictionary<string, UsageEvent> repriced = await PriceAllAsync(request, catalog, partitions.SelectMany(p => p.Events), cancellationToken).ConfigureAwait(false);
        RepricingResult result = Diff(request, catalog, partitions.SelectMany(p => p.Events), repriced);
        if (request.DryRun)
        {
            return result;
        }

        string jobId = result.JobId;
        DateTimeOffset started = time.GetUtcNow();
        await AuditAsync(request, actor, "repricing.start", result, started, cancellationToken).ConfigureAwait(false);
        int rewritten = 0, done = 0;
        var skipped = new System.Collections.Concurrent.ConcurrentBag<string>();
        // Partitions are independent (each its own transactions; the team/tenant copies converge by Seq), so a few
        // are rewritten at a time.
        await Parallel.ForEachAsync(partitions, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (p, ct) =>
        {
            UserDay partition = p.Partition;
            if (await store.IsDoneAsync(jobId, partition, ct).ConfigureAwait(false))
            {
                Interlocked.Increment(ref done);
                return;
            }

            // An event recorded after the read above is priced the same way (the terms are the same).
            PartitionRewrite outcome = await store.RewriteAsync(
                partition, e => repriced.TryGetValue(e.EventId, out UsageEvent? r) ? r : Reprice(e, catalog, null), ct).ConfigureAwait(false);
            if (outcome.Skipped is { } why)
            {
                skipped.Add($"{partition.UserId} {partition.Day:yyyy-MM-dd}: {why}");
            }
            else
            {
                Interlocked.Increment(ref rewritten);
            }

            // Budgets before the checkpoint: a crash in between leaves the intents in the partition for the rerun,
            // and the budgets ignore the ones they already applied.
            IReadOnlyList<RepricingIntent> intents = outcome.Intents ?? [];
            if (intents.Count > 0 && observer is not null)
            {
                await observer.OnRepricedAsync(intents, ct).ConfigureAwait(false);
            }

            // Without an observer the intents stay for a later run that has one.
            await store.MarkDoneAsync(jobId, partition, observer is null ? [] : intents, ct).ConfigureAwait(false);
        }).ConfigureAwait(false);

        if (rollups is not null)
        {
            var months = new HashSet<DateTimeOffset>();
            foreach (DateOnly day in partitions.Select(p => p.Partition.Day).Distinct())
            {
                await rollups.RecomputeDayAsync(request.TenantId, day, cancellationToken).ConfigureAwait(false);
                months.Add(new DateTimeOffset(day.Year, day.Month, 1, 0, 0, 0, TimeSpan.Zero));
            }

            foreach (DateTimeOffset month in months)
            {
                await rollups.RecomputeMonthAsync(request.TenantId, month, cancellationToken).ConfigureAwait(false);
            }
        }

        monthToDate?.Invalidate(request.TenantId);
        result = result with { PartitionsRewritten = rewritten, PartitionsAlreadyDone = done, Skipped = skipped.Order(StringComparer.Ordinal).ToList() };
        await AuditAsync(request, actor, "repricing.apply", result, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        return result;
    }

    private async Task<CatalogVersion?> ResolveCatalogAsync(string? version, CancellationToken cancellationToken)
    {
        if (version is null)
        {
            return terms.CatalogInForce;
        }

        if (version == CatalogVersion.BuiltIn.Version)
        {
            return CatalogVersion.BuiltIn;
        }

        byte[]? content = await catalogs.ReadVersionAsync(version, cancellationToken).ConfigureAwait(false);
        if (content is null)
        {
            return null;
        }

        (CatalogLoadResult loaded, _) = CatalogPublisher.Validate(content, $"catalog {version}");
        return loaded.Success && !loaded.Issues.Any(i => i.Severity == IssueSeverity.Error) ? new CatalogVersion(version, loaded.Catalog!) : null;
    }

    private async Task<Dictionary<string, UsageEvent>> PriceAllAsync(
        RepricingRequest request, CatalogVersion catalog, IEnumerable<UsageEvent> all, CancellationToken cancellationToken)
    {
        await terms.EnsureFreshAsync(cancellationToken).ConfigureAwait(false);
        var result = new Dictionary<string, UsageEvent>(StringComparer.Ordinal);
        MonthToDateUsage running = default;
        DateOnly month = default;
        foreach (UsageEvent e in all.OrderBy(e => e.Timestamp).ThenBy(e => e.EventId, StringComparer.Ordinal))
        {
            var eventMonth = new DateOnly(e.Timestamp.UtcDateTime.Year, e.Timestamp.UtcDateTime.Month, 1);
            if (eventMonth != month)
            {
                month = eventMonth;
                running = await BeforePeriodAsync(request, eventMonth, cancellationToken).ConfigureAwait(false);
            }

            UsageEvent priced = Reprice(e, catalog, running);
            result[e.EventId] = priced;
            running = new MonthToDateUsage(running.SpendUsd + priced.CostUsd, running.Tokens + e.Usage.InputTokens + e.Usage.OutputTokens);
        }

        return result;
    }

    /// <summary>The month's usage before the period starts (the period may begin mid-month).</summary>
    private async Task<MonthToDateUsage> BeforePeriodAsync(RepricingRequest request, DateOnly month, CancellationToken cancellationToken)
    {
        if (month >= request.From)
        {
            return default;
        }

        decimal spend = 0m;
        long tokens = 0;
        await foreach (UsageEvent e in ReadDaysAsync(request.TenantId, month, request.From.AddDays(-1), cancellationToken).ConfigureAwait(false))
        {
            spend += e.CostUsd;
            tokens += e.Usage.InputTokens + e.Usage.OutputTokens;
        }

        return new MonthToDateUsage(spend, tokens);
    }

    private async IAsyncEnumerable<UsageEvent> ReadDaysAsync(string tenantId, DateOnly from, DateOnly to, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (DateOnly day = from; day <= to; day = day.AddDays(1))
        {
            await foreach (UsageEvent e in events.ReadTenantDayAsync(tenantId, day, cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }
    }

    private UsageEvent Reprice(UsageEvent e, CatalogVersion catalog, MonthToDateUsage? monthToDate)
    {
        PricingTerms t = terms.For(e.TenantId, e.Timestamp, catalog);
        PriceQuote quote = t.Engine.Price(new PriceRequest(e.Provider == "unknown" ? null : e.Provider, e.Model, e.Timestamp, e.Usage, e.TenantId)
        {
            MonthToDate = t.HasVolumeTiers ? monthToDate : null,
        });
        return e.PricedBy(quote) with { PolicyVersion = t.PolicyVersion, CatalogVersion = t.CatalogVersion };
    }

    private static RepricingResult Diff(RepricingRequest request, CatalogVersion catalog, IEnumerable<UsageEvent> all, Dictionary<string, UsageEvent> repriced)
    {
        var models = new Dictionary<(string, string), (long Events, long Changed, decimal Old, decimal New)>();
        var fingerprint = new StringBuilder();
        foreach (UsageEvent e in all)
        {
            UsageEvent n = repriced[e.EventId];
            bool changed = n.CostUsd != e.CostUsd || n.Priced != e.Priced || n.ListCostUsd != e.ListCostUsd
                || n.PolicyVersion != e.PolicyVersion || n.CatalogVersion != e.CatalogVersion;
            (string, string) key = (e.Provider, e.Model);
            models.TryGetValue(key, out var m);
            models[key] = (m.Events + 1, m.Changed + (changed ? 1 : 0), m.Old + e.CostUsd, m.New + n.CostUsd);
        }

        // The job is what it does: the same tenant, period and terms give the same id, so a rerun resumes it.
        fingerprint.Append(CultureInfo.InvariantCulture, $"{request.TenantId}|{request.From:yyyyMMdd}|{request.To:yyyyMMdd}|{catalog.Version}");
        foreach (UsageEvent n in repriced.Values.OrderBy(v => v.EventId, StringComparer.Ordinal))
        {
            fingerprint.Append(CultureInfo.InvariantCulture, $"|{n.EventId}={n.CostUsd}/{n.PolicyVersion}");
        }

        string jobId = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint.ToString())))[..24];
        List<RepricingModelDiff> diffs = models
            .Select(kv => new RepricingModelDiff(kv.Key.Item1, kv.Key.Item2, kv.Value.Events, kv.Value.Changed, kv.Value.Old, kv.Value.New))
            .OrderBy(d => d.Provider, StringComparer.Ordinal).ThenBy(d => d.Model, StringComparer.Ordinal)
            .ToList();
        return new RepricingResult(jobId, request.DryRun, catalog.Version,
            diffs.Sum(d => d.Events), diffs.Sum(d => d.Changed), diffs.Sum(d => d.OldCostUsd), diffs.Sum(d => d.NewCostUsd), diffs, 0, 0, []);
    }

    private async Task AuditAsync(RepricingRequest request, string actor, string action, RepricingResult result, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (audit is null)
        {
            return;
        }

        await audit.RecordAsync(AuditEntry.Create(request.TenantId, actor, action, "repricing", result.JobId, at, new Dictionary<string, string>
        {
            ["from"] = request.From.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ["to"] = request.To.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ["catalog_version"] = result.CatalogVersion,
            ["events"] = result.Events.ToString(CultureInfo.InvariantCulture),
            ["changed"] = result.Changed.ToString(CultureInfo.InvariantCulture),
            ["old_cost_usd"] = result.OldCostUsd.ToString(CultureInfo.InvariantCulture),
            ["new_cost_usd"] = result.NewCostUsd.ToString(CultureInfo.InvariantCulture),
            ["partitions_rewritten"] = result.PartitionsRewritten.ToString(CultureInfo.InvariantCulture),
            ["skipped"] = result.Skipped.Count.ToString(CultureInfo.InvariantCulture),
        }), cancellationToken).ConfigureAwait(false);
    }
}
