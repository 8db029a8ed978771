using System.Globalization;
using System.Text.Json;
using LlmCost.Core.Alerts;
using LlmCost.Core.Budgets;
using LlmCost.Core.Recording;
using LlmCost.Core.Retention;

namespace LlmCost.Core.Advice;

/// <summary>A tenant-scope recommendation report as computed by the timer, with when it was computed.</summary>
public sealed record StoredRecommendations(DateTimeOffset ComputedAt, RecommendationReport Report);

/// <summary>Recommendations computed ahead of time, per tenant and exact period.</summary>
public interface IRecommendationStore
{
    Task SaveAsync(StoredRecommendations stored, CancellationToken cancellationToken = default);

    /// <summary>The stored report for exactly [from, to), or null.</summary>
    Task<StoredRecommendations?> FindAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default);
}

/// <summary>
/// Stores each report as one JSON file in the archive store (Blob): a report grows with the tenant's models and
/// scopes, so it gets a file of its own rather than a table property with a 64 KiB ceiling. Only tenant-scope
/// reports are stored: they name models and apps, never users, so erasing a user never has to rewrite them.
/// </summary>
public sealed class ArchiveRecommendationStore(IArchiveStore archive, Func<string, string> safeName) : IRecommendationStore
{
    public const string Prefix = "advice";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public Task SaveAsync(StoredRecommendations stored, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stored);
        byte[] content = JsonSerializer.SerializeToUtf8Bytes(stored, Json);
        return archive.WriteAsync(PathFor(stored.Report.TenantId, stored.Report.From, stored.Report.To), content, "application/json", cancellationToken);
    }

    public async Task<StoredRecommendations?> FindAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        byte[]? content = await archive.ReadAsync(PathFor(tenantId, from, to), cancellationToken).ConfigureAwait(false);
        return content is null ? null : JsonSerializer.Deserialize<StoredRecommendations>(content, Json);
    }

    public string PathFor(string tenantId, DateTimeOffset from, DateTimeOffset to) => string.Create(CultureInfo.InvariantCulture,
        $"{Prefix}/{safeName(tenantId)}/recommendations/{from.UtcDateTime:yyyyMMdd'T'HHmmss}_{to.UtcDateTime:yyyyMMdd'T'HHmmss}.json");
}

/// <summary>What one run of the recommendations timer did.</summary>
public sealed record RecommendationRunResult(int Tenants, int Recommendations, int Digests);

/// <summary>
/// The recommendations timer: per tenant, the last <see cref="PeriodDays"/> whole UTC days, stored; on Mondays a
/// weekly digest alert (kind <see cref="AlertKinds.AdviceDigest"/>) through the alert pipeline, so it reaches the
/// tenant's webhook, Slack, Teams, e-mail and in-app subscriptions like any alert. Its id is derived from the tenant
/// and the week, so a rerun re-raises the same alert and receivers de-duplicate it.
/// </summary>
public sealed class RecommendationRunner(RecommendationService service, IRecommendationStore store, IAlertPublisher alerts, TimeProvider time)
{
    public const int PeriodDays = 7;

    /// <summary>Recommendations listed in a digest (the largest savings).</summary>
    public const int DigestTop = 5;

    public async Task<RecommendationRunResult> RunAsync(IEnumerable<string> tenants, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenants);
        DateTimeOffset now = time.GetUtcNow();
        var to = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        DateTimeOffset from = to.AddDays(-PeriodDays);
        bool digestDay = now.UtcDateTime.DayOfWeek == DayOfWeek.Monday;
        int count = 0, recommendations = 0;
        var digests = new List<Alert>();
        foreach (string tenant in tenants)
        {
            Validated<RecommendationReport> answer = await service.RecommendAsync(
                new RecommendationRequest { TenantId = tenant, From = from, To = to }, cancellationToken).ConfigureAwait(false);
            if (!answer.IsValid)
            {
                continue;
            }

            RecommendationReport report = answer.Value!;
            await store.SaveAsync(new StoredRecommendations(now, report), cancellationToken).ConfigureAwait(false);
            count++;
            recommendations += report.Recommendations.Count;
            if (digestDay && Digest(report, now) is { } digest)
            {
                digests.Add(digest);
            }
        }

        if (digests.Count > 0)
        {
            await alerts.PublishAsync(digests, cancellationToken).ConfigureAwait(false);
        }

        return new RecommendationRunResult(count, recommendations, digests.Count);
    }

    /// <summary>The weekly digest of a report; null when there is nothing to recommend (no empty mail).</summary>
    public static Alert? Digest(RecommendationReport report, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Recommendations.Count == 0)
        {
            return null;
        }

        decimal exact = report.Recommendations.Where(r => !r.Evidence.Estimate).Sum(r => r.SavingsUsd);
        decimal estimated = report.Recommendations.Where(r => r.Evidence.Estimate).Sum(r => r.SavingsUsd);
        string period = string.Create(CultureInfo.InvariantCulture, $"{report.From.UtcDateTime:yyyy-MM-dd} to {report.To.UtcDateTime.AddTicks(-1):yyyy-MM-dd}");
        var details = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["period_from"] = report.From.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            ["period_to"] = report.To.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            ["recommendations"] = report.Recommendations.Count.ToString(CultureInfo.InvariantCulture),
            ["savings_exact_usd"] = MoneyFormat.Format(exact),
            ["savings_estimated_usd"] = MoneyFormat.Format(estimated),
            ["price_source"] = report.PriceSource,
        };
        int i = 0;
        foreach (Recommendation r in report.Recommendations.Take(DigestTop))
        {
            i++;
            string target = r.SuggestedModel is { } suggested && (suggested != r.Model || r.SuggestedProvider != r.Provider)
                ? $" -> {r.SuggestedProvider}/{suggested}"
                : string.Empty;
            details[$"top_{i}"] = string.Create(CultureInfo.InvariantCulture,
                $"{r.Kind} {r.Provider}/{r.Model}{target}: save {MoneyFormat.Format(r.SavingsUsd)} USD of {MoneyFormat.Format(r.CurrentCostUsd)}{(r.Evidence.Estimate ? " (estimate)" : string.Empty)}");
        }

        return new Alert
        {
            AlertId = AlertIds.For(AlertKinds.AdviceDigest, report.TenantId, report.From.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture)),
            Kind = AlertKinds.AdviceDigest,
            TenantId = report.TenantId,
            Scope = "tenant",
            ScopeId = report.TenantId,
            CreatedAt = now,
            Message = string.Create(CultureInfo.InvariantCulture,
                $"Weekly cost advice for {period}: {report.Recommendations.Count} recommendations, {MoneyFormat.Format(exact)} USD saved exactly by re-pricing, {MoneyFormat.Format(estimated)} USD more estimated. GET /api/recommendations for the evidence."),
            Details = details,
        };
    }
}
