using System.Globalization;
using System.Text.Json;
using Azure.Data.Tables;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using LlmCost.Core;

namespace LlmCost.Storage.Recording;

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
    /// <summary>
    /// Tags as JSON without escaping non-ASCII text (only quotes, backslashes and control characters are escaped):
    /// the default escaper writes 6 characters per non-ASCII character, which would push a tag set the submission
    /// limits allow (32 × 320 characters of, say, Japanese) past a string property's 32,768 characters. Storage only,
    /// never embedded in HTML.
    /// </summary>
    private static readonly JsonSerializerOptions TagsJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

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
            ["Tags"] = e.Tags.Count == 0 ? null : JsonSerializer.Serialize(e.Tags, TagsJson),
            ["CostUsd"] = Money(e.CostUsd),
            ["Priced"] = e.Priced,
            ["UnpricedReason"] = e.UnpricedReason,
            ["PricedProvider"] = e.PricedProvider,
            ["PricedModel"] = e.PricedModel,
            ["PriceSource"] = e.PriceSource,
            ["ReservationId"] = e.ReservationId,
            ["KeyId"] = e.KeyId,
            ["EventIdGenerated"] = e.EventIdGenerated,
            ["RecordedAt"] = e.RecordedAt,
            ["ReportedCostUsd"] = e.ReportedCostUsd is { } reported ? Money(reported) : null,
            ["ListCostUsd"] = Money(e.ListCostUsd),
            ["PolicyVersion"] = e.PolicyVersion,
            ["CatalogVersion"] = e.CatalogVersion,
        };
        UnitColumns.Write(entity, u, UnitColumns.EventLegacy);
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
            Usage = UnitColumns.Read(entity, UnitColumns.EventLegacy, requestsDefault: 1),
            CostUsd = ParseMoney(entity.GetString("CostUsd")),
            Priced = entity.GetBoolean("Priced") ?? false,
            UnpricedReason = entity.GetString("UnpricedReason"),
            PricedProvider = entity.GetString("PricedProvider"),
            PricedModel = entity.GetString("PricedModel"),
            PriceSource = entity.GetString("PriceSource"),
            ReservationId = entity.GetString("ReservationId"),
            KeyId = entity.GetString("KeyId"),
            RecordedAt = entity.GetDateTimeOffset("RecordedAt") ?? default,
            ReportedCostUsd = entity.GetString("ReportedCostUsd") is { } reported ? ParseMoney(reported) : null,
            // Events recorded before list costs were kept were priced at list prices (no policy was applied).
            ListCostUsd = entity.GetString("ListCostUsd") is { } list ? ParseMoney(list) : ParseMoney(entity.GetString("CostUsd")),
            PolicyVersion = entity.GetInt32("PolicyVersion"),
            CatalogVersion = entity.GetString("CatalogVersion"),
        };
    }

    /// <summary>Writes totals (and the Seq) into <paramref name="entity"/>.</summary>
    public static TableEntity WithTotals(TableEntity entity, UsageTotals t, long seq)
    {
        entity["Events"] = t.Events;
        entity["CostUsd"] = Money(t.CostUsd);
        UnitColumns.Write(entity, t.Units, UnitColumns.TotalsLegacy);
        entity["UnpricedEvents"] = t.UnpricedEvents;
        entity["ErrorEvents"] = t.ErrorEvents;
        entity["LatencyMsTotal"] = t.LatencyMsTotal;
        entity["LatencyEvents"] = t.LatencyEvents;
        if (t.ReportedCostEvents > 0)
        {
            entity["ReportedCostEvents"] = t.ReportedCostEvents;
            entity["ReportedCostUsd"] = Money(t.ReportedCostUsd);
            entity["ReportedCostDifferenceUsd"] = Money(t.ReportedCostDifferenceUsd);
            entity["ReportedCostComparedUsd"] = Money(t.ReportedCostComparedUsd);
        }

        entity["Seq"] = seq;
        return entity;
    }

    public static UsageTotals Totals(TableEntity entity) => new()
    {
        Events = Long(entity, "Events"),
        CostUsd = ParseMoney(entity.GetString("CostUsd")),
        Units = UnitColumns.Read(entity, UnitColumns.TotalsLegacy, requestsDefault: 0),
        UnpricedEvents = Long(entity, "UnpricedEvents"),
        ErrorEvents = Long(entity, "ErrorEvents"),
        LatencyMsTotal = Long(entity, "LatencyMsTotal"),
        LatencyEvents = Long(entity, "LatencyEvents"),
        ReportedCostEvents = Long(entity, "ReportedCostEvents"),
        ReportedCostUsd = ParseMoney(entity.GetString("ReportedCostUsd")),
        ReportedCostDifferenceUsd = ParseMoney(entity.GetString("ReportedCostDifferenceUsd")),
        ReportedCostComparedUsd = ParseMoney(entity.GetString("ReportedCostComparedUsd")),
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
    public static string Money(decimal value) => MoneyFormat.Format(value);

    public static decimal ParseMoney(string? text) =>
        text is null ? 0m : decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture);

    private static long Long(TableEntity entity, string name) => entity.GetInt64(name) ?? 0;
}

/// <summary>
/// The usage codec of every row that carries usage (events, day summaries, hour buckets, scope rows, rollups): the
/// units that rows have always had keep their named columns (so rows written before the full lattice read as they
/// did, and old readers keep working), and every other unit with a non-zero count is one column
/// <c>U_{usage_key}</c> (<c>U_input_image_tokens</c>). A row holds at most the ~60 units of the registry, far below
/// Table Storage's 252 properties; adding a unit to the registry adds a possible column, nothing else.
/// </summary>
public static class UnitColumns
{
    public const string Prefix = "U_";

    /// <summary>The event row's historic columns (written even when 0).</summary>
    public static IReadOnlyDictionary<UsageUnit, string> EventLegacy { get; } = new Dictionary<UsageUnit, string>
    {
        [UsageUnits.Get("input_tokens")] = "InputTokens",
        [UsageUnits.Get("cache_read_tokens")] = "CacheReadTokens",
        [UsageUnits.Get("cache_write_tokens")] = "CacheWriteTokens",
        [UsageUnits.Get("cache_write_1h_tokens")] = "CacheWrite1hTokens",
        [UsageUnits.Get("input_audio_tokens")] = "InputAudioTokens",
        [UsageUnits.Get("cache_audio_read_tokens")] = "CacheAudioReadTokens",
        [UsageUnits.Get("output_tokens")] = "OutputTokens",
        [UsageUnits.Get("output_reasoning_tokens")] = "ReasoningTokens",
        [UsageUnits.Get("output_audio_tokens")] = "OutputAudioTokens",
        [UsageUnits.Get("web_searches")] = "WebSearches",
        [UsageUnits.Get("requests")] = "Requests",
    };

    /// <summary>The totals rows' historic columns (written even when 0).</summary>
    public static IReadOnlyDictionary<UsageUnit, string> TotalsLegacy { get; } = new Dictionary<UsageUnit, string>
    {
        [UsageUnits.Get("input_tokens")] = "InputTokens",
        [UsageUnits.Get("output_tokens")] = "OutputTokens",
        [UsageUnits.Get("cache_read_tokens")] = "CacheReadTokens",
        [UsageUnits.Get("cache_write_tokens")] = "CacheWriteTokens",
        [UsageUnits.Get("output_reasoning_tokens")] = "ReasoningTokens",
    };

    public static void Write(TableEntity entity, CanonicalUsage usage, IReadOnlyDictionary<UsageUnit, string> legacy)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(legacy);
        foreach ((UsageUnit unit, string column) in legacy)
        {
            entity[column] = usage.Get(unit);
        }

        foreach ((UsageUnit unit, long count) in usage.Units)
        {
            if (!legacy.ContainsKey(unit))
            {
                entity[Prefix + unit.UsageKey] = count;
            }
        }
    }

    /// <param name="requestsDefault">The request count of a row without a Requests column (1 for an event, 0 for totals).</param>
    public static CanonicalUsage Read(TableEntity entity, IReadOnlyDictionary<UsageUnit, string> legacy, long requestsDefault)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentNullException.ThrowIfNull(legacy);
        var builder = new CanonicalUsage.Builder();
        builder.Set(UsageUnits.Get("requests"), requestsDefault);
        foreach ((UsageUnit unit, string column) in legacy)
        {
            if (entity.GetInt64(column) is { } count)
            {
                builder.Set(unit, count);
            }
        }

        foreach (string key in entity.Keys)
        {
            // A column of a unit this version does not know (written by a newer one) is skipped, not misread.
            if (key.StartsWith(Prefix, StringComparison.Ordinal) && UsageUnits.TryGetByUsageKey(key[Prefix.Length..], out UsageUnit unit)
                && entity.GetInt64(key) is { } count)
            {
                builder.Set(unit, count);
            }
        }

        return builder.Build();
    }
}
