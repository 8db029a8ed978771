using System.Globalization;
using System.Text.Json;
using Azure.Data.Tables;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;

namespace LlmCost.Storage.Usage;

/// <summary>
/// The usage tables (logical names, prefixed by <see cref="StorageNames"/>) and their row shapes.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>usageevents</c>: PartitionKey <c>{tenant}|{user}|{yyyyMMdd}</c> (UTC day of the event). Rows:
/// events (RowKey = event id, Kind "event"); the day summary (RowKey <c>~day</c>, Kind "day"); hour buckets
/// (RowKey <c>~b|{HH}|{team}|{provider}|{model}</c>, Kind "bucket", provider/model escaped); contributed rows
/// (<c>~x|…</c>). Events, summary and buckets are written in ONE entity-group transaction; the day row's
/// <c>Seq</c> counts those transactions and each bucket carries the Seq of the transaction that last changed it.</item>
/// <item><c>usagescopes</c>: derived copies of the buckets for team and tenant queries. PartitionKey
/// <c>{tenant}|team|{team}|{yyyyMMdd}</c> or <c>{tenant}|all|{yyyyMMdd}</c>; RowKey
/// <c>{user}|{HH}|{team}|{provider}|{model}</c>. Absolute values with the source Seq, overwritten only by a
/// higher Seq, so a replay or an out-of-order copy never double counts (DESIGN invariant 3).</item>
/// <item><c>usagetouched</c>: PartitionKey = processing hour <c>yyyyMMddHH</c>, RowKey
/// <c>{tenant}|{user}|{yyyyMMdd}</c>: written BEFORE a partition's first transaction in that hour, so
/// "partitions written since T" is a cheap superset (late events reach rollups).</item>
/// <item><c>usagetenantdays</c>: PartitionKey <c>{tenant}|{yyyyMMdd}</c>, RowKey = user: who has events in a
/// tenant on a day (written before the events, so a superset).</item>
/// </list>
/// </remarks>
public static class UsageTables
{
    public const string Events = "usageevents";
    public const string Scopes = "usagescopes";
    public const string Touched = "usagetouched";
    public const string TenantDays = "usagetenantdays";

    public const string DayRowKey = "~day";
    public const string BucketPrefix = "~b|";

    /// <summary>Sorts after every bucket key ("}" follows "|").</summary>
    public const string BucketPrefixEnd = "~b}";

    public const string KindEvent = "event";
    public const string KindDay = "day";
    public const string KindBucket = "bucket";

    public static string TouchedPartition(DateTimeOffset processingTime) =>
        processingTime.UtcDateTime.ToString("yyyyMMddHH", CultureInfo.InvariantCulture);
}

/// <summary>Identity of an hour bucket within a user-day partition.</summary>
internal readonly record struct BucketKey(int Hour, string Team, string Provider, string Model)
{
    public static BucketKey Of(UsageEvent e) => new(e.Timestamp.UtcDateTime.Hour, e.TeamId ?? string.Empty, e.Provider, e.Model);

    /// <summary>The bucket's key after <c>{prefix}</c>: <c>{HH}|{team}|{provider}|{model}</c>.</summary>
    public string Suffix =>
        $"{Hour.ToString("00", CultureInfo.InvariantCulture)}|{Team}|{StorageKeys.Escape(Provider)}|{StorageKeys.Escape(Model)}";

    public string RowKey => UsageTables.BucketPrefix + Suffix;
}

/// <summary>A summary row (day or bucket) with the version it was read at.</summary>
internal sealed record SummaryRow(UsageTotals Totals, long Seq, Azure.ETag ETag);

internal static class UsageRows
{
    public static TableEntity EventEntity(string partitionKey, UsageEvent e)
    {
        CanonicalUsage u = e.Usage;
        var entity = new TableEntity(partitionKey, e.EventId)
        {
            ["Kind"] = UsageTables.KindEvent,
            ["TenantId"] = e.TenantId,
            ["UserId"] = e.UserId,
            ["TeamId"] = e.TeamId,
            ["App"] = e.App,
            ["Provider"] = e.Provider,
            ["Model"] = e.Model,
            ["OccurredAt"] = e.Timestamp,
            ["Status"] = e.Status,
            ["LatencyMs"] = e.LatencyMs,
            ["Tags"] = e.Tags.Count == 0 ? null : JsonSerializer.Serialize(e.Tags),
            ["InputTokens"] = u.InputTokens,
            ["CacheReadTokens"] = u.CacheReadTokens,
            ["CacheWriteTokens"] = u.CacheWriteTokens,
            ["CacheWrite1hTokens"] = u.CacheWrite1hTokens,
            ["InputAudioTokens"] = u.InputAudioTokens,
            ["CacheAudioReadTokens"] = u.CacheAudioReadTokens,
            ["OutputTokens"] = u.OutputTokens,
            ["ReasoningTokens"] = u.ReasoningTokens,
            ["OutputAudioTokens"] = u.OutputAudioTokens,
            ["WebSearches"] = u.WebSearches,
            ["Requests"] = u.Requests,
            ["CostUsd"] = Money(e.CostUsd),
            ["Priced"] = e.Priced,
            ["UnpricedReason"] = e.UnpricedReason,
            ["PricedProvider"] = e.PricedProvider,
            ["PricedModel"] = e.PricedModel,
            ["PriceSource"] = e.PriceSource,
            ["ReservationId"] = e.ReservationId,
            ["EventIdGenerated"] = e.EventIdGenerated,
            ["RecordedAt"] = e.RecordedAt,
        };
        return WithoutNulls(entity);
    }

    public static UsageEvent ToEvent(TableEntity entity)
    {
        string? tags = entity.GetString("Tags");
        return new UsageEvent
        {
            EventId = entity.RowKey,
            EventIdGenerated = entity.GetBoolean("EventIdGenerated") ?? false,
            TenantId = entity.GetString("TenantId"),
            UserId = entity.GetString("UserId"),
            TeamId = entity.GetString("TeamId"),
            App = entity.GetString("App"),
            Provider = entity.GetString("Provider") ?? "unknown",
            Model = entity.GetString("Model") ?? string.Empty,
            Timestamp = entity.GetDateTimeOffset("OccurredAt") ?? default,
            Status = entity.GetString("Status") ?? UsageStatuses.Success,
            LatencyMs = entity.GetInt64("LatencyMs"),
            Tags = tags is null ? new Dictionary<string, string>() : JsonSerializer.Deserialize<Dictionary<string, string>>(tags)!,
            Usage = new CanonicalUsage
            {
                InputTokens = Long(entity, "InputTokens"),
                CacheReadTokens = Long(entity, "CacheReadTokens"),
                CacheWriteTokens = Long(entity, "CacheWriteTokens"),
                CacheWrite1hTokens = Long(entity, "CacheWrite1hTokens"),
                InputAudioTokens = Long(entity, "InputAudioTokens"),
                CacheAudioReadTokens = Long(entity, "CacheAudioReadTokens"),
                OutputTokens = Long(entity, "OutputTokens"),
                ReasoningTokens = Long(entity, "ReasoningTokens"),
                OutputAudioTokens = Long(entity, "OutputAudioTokens"),
                WebSearches = Long(entity, "WebSearches"),
                Requests = entity.GetInt64("Requests") ?? 1,
            },
            CostUsd = ParseMoney(entity.GetString("CostUsd")),
            Priced = entity.GetBoolean("Priced") ?? false,
            UnpricedReason = entity.GetString("UnpricedReason"),
            PricedProvider = entity.GetString("PricedProvider"),
            PricedModel = entity.GetString("PricedModel"),
            PriceSource = entity.GetString("PriceSource"),
            ReservationId = entity.GetString("ReservationId"),
            RecordedAt = entity.GetDateTimeOffset("RecordedAt") ?? default,
        };
    }

    /// <summary>Writes totals (and the Seq) into <paramref name="entity"/>.</summary>
    public static TableEntity WithTotals(TableEntity entity, UsageTotals t, long seq)
    {
        entity["Events"] = t.Events;
        entity["CostUsd"] = Money(t.CostUsd);
        entity["InputTokens"] = t.InputTokens;
        entity["OutputTokens"] = t.OutputTokens;
        entity["CacheReadTokens"] = t.CacheReadTokens;
        entity["CacheWriteTokens"] = t.CacheWriteTokens;
        entity["ReasoningTokens"] = t.ReasoningTokens;
        entity["UnpricedEvents"] = t.UnpricedEvents;
        entity["ErrorEvents"] = t.ErrorEvents;
        entity["LatencyMsTotal"] = t.LatencyMsTotal;
        entity["LatencyEvents"] = t.LatencyEvents;
        entity["Seq"] = seq;
        return entity;
    }

    public static UsageTotals Totals(TableEntity entity) => new()
    {
        Events = Long(entity, "Events"),
        CostUsd = ParseMoney(entity.GetString("CostUsd")),
        InputTokens = Long(entity, "InputTokens"),
        OutputTokens = Long(entity, "OutputTokens"),
        CacheReadTokens = Long(entity, "CacheReadTokens"),
        CacheWriteTokens = Long(entity, "CacheWriteTokens"),
        ReasoningTokens = Long(entity, "ReasoningTokens"),
        UnpricedEvents = Long(entity, "UnpricedEvents"),
        ErrorEvents = Long(entity, "ErrorEvents"),
        LatencyMsTotal = Long(entity, "LatencyMsTotal"),
        LatencyEvents = Long(entity, "LatencyEvents"),
    };

    public static TableEntity BucketEntity(string partitionKey, string rowKey, string? userId, BucketKey key, UsageTotals totals, long seq)
    {
        var entity = new TableEntity(partitionKey, rowKey)
        {
            ["Kind"] = UsageTables.KindBucket,
            ["Hour"] = key.Hour,
            ["TeamId"] = key.Team.Length == 0 ? null : key.Team,
            ["Provider"] = key.Provider,
            ["Model"] = key.Model,
        };
        if (userId is not null)
        {
            entity["UserId"] = userId;
        }

        return WithoutNulls(WithTotals(entity, totals, seq));
    }

    /// <summary>Absent optional values are absent properties, not nulls on the wire.</summary>
    public static TableEntity WithoutNulls(TableEntity entity)
    {
        foreach (string key in entity.Keys.Where(k => entity[k] is null).ToList())
        {
            entity.Remove(key);
        }

        return entity;
    }

    public static BucketKey BucketKeyOf(TableEntity entity) => new(
        entity.GetInt32("Hour") ?? 0,
        entity.GetString("TeamId") ?? string.Empty,
        entity.GetString("Provider") ?? "unknown",
        entity.GetString("Model") ?? string.Empty);

    public static long Seq(TableEntity entity) => Long(entity, "Seq");

    /// <summary>Money is stored as an invariant decimal string: Table Storage has no decimal type and a double would round.</summary>
    public static string Money(decimal value) => UsageQuery.FormatCost(value);

    public static decimal ParseMoney(string? text) =>
        text is null ? 0m : decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture);

    private static long Long(TableEntity entity, string name) => entity.GetInt64(name) ?? 0;
}
