using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using LlmCost.Client;

namespace LlmCost.Cli.Import;

/// <summary>One input format: how a JSON value or a CSV record becomes candidate events.</summary>
internal abstract class ImportFormat
{
    public abstract string Name { get; }

    public abstract void Map(JsonElement element, string source, ImportContext context, List<ImportRecord> output);

    public abstract void Map(CsvRow row, string source, ImportContext context, List<ImportRecord> output);

    public static ImportFormat? ByName(string name) => name switch
    {
        "openai-usage" => new OpenAiUsageFormat(),
        "anthropic-usage" => new AnthropicUsageFormat(),
        "litellm-spend" => new LiteLlmSpendFormat(),
        "csv" => new GenericCsvFormat(),
        _ => null,
    };

    /// <summary>Runs one mapping, turning a malformed value into a rejected record instead of a stopped import.</summary>
    protected static void Guard(string source, List<ImportRecord> output, Func<ImportRecord> map)
    {
        try
        {
            output.Add(map());
        }
        catch (FormatException ex)
        {
            output.Add(ImportRecord.Reject(source, ex.Message));
        }
    }
}

/// <summary>
/// Provider usage reports: pages of time buckets holding result rows (or buckets, or single results carrying their
/// bucket's times, one per line). The traversal is shared; each report maps its result rows.
/// </summary>
internal abstract class BucketReportFormat : ImportFormat
{
    protected abstract string StartField { get; }

    protected abstract string EndField { get; }

    public override void Map(JsonElement element, string source, ImportContext context, List<ImportRecord> output) =>
        Visit(element, null, null, source, context, output);

    /// <summary>Maps one result row; <paramref name="get"/> reads a field by name.</summary>
    protected abstract ImportRecord Result(Func<string, string?> get, DateTimeOffset? start, DateTimeOffset? end, string source, ImportContext context);

    /// <summary>
    /// What every result must have before it is mapped: the bucket's start, a bucket already complete (its counts
    /// could still grow), and a model to price it by (<paramref name="groupByModel"/> says how to export one). Null
    /// when the result passes, else the skip or rejection; a result without a start is a format error.
    /// </summary>
    protected ImportRecord? Refuse(
        Func<string, string?> get, [NotNull] DateTimeOffset? start, DateTimeOffset? end, string source, ImportContext context, string groupByModel, out string model)
    {
        model = string.Empty;
        if (start is null)
        {
            throw new FormatException($"{StartField} (the bucket's) is required");
        }

        if (end is { } e && e > context.Now)
        {
            return ImportRecord.Skip(source, "bucket not complete yet (ends in the future)");
        }

        if (get("model") is not { } named)
        {
            return ImportRecord.Reject(source, $"model is missing ({groupByModel})");
        }

        model = named;
        return null;
    }

    /// <summary>Reads a field of a JSON result row ("a.b" reads b nested in a).</summary>
    protected static string? Field(JsonElement element, string name)
    {
        int dot = name.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return ImportValues.Text(element, name);
        }

        return element.TryGetProperty(name[..dot], out JsonElement inner) ? ImportValues.Text(inner, name[(dot + 1)..]) : null;
    }

    protected void MapCsv(CsvRow row, Func<string, string?> get, string source, ImportContext context, List<ImportRecord> output) =>
        Guard(source, output, () => Result(get,
            ImportValues.Instant(row[StartField] ?? row[StartField + "_iso"], StartField, assumeUtc: false),
            ImportValues.Instant(row[EndField] ?? row[EndField + "_iso"], EndField, assumeUtc: false), source, context));

    private void Visit(JsonElement element, DateTimeOffset? start, DateTimeOffset? end, string source, ImportContext context, List<ImportRecord> output)
    {
        if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in element.EnumerateArray())
            {
                Visit(item, start, end, source, context, output);
            }

            return;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            output.Add(ImportRecord.Reject(source, "expected a usage report page, bucket or result object"));
            return;
        }

        if (element.TryGetProperty("data", out JsonElement data) && data.ValueKind == JsonValueKind.Array)
        {
            Visit(data, start, end, source, context, output);
            return;
        }

        try
        {
            start = ImportValues.Instant(ImportValues.Text(element, StartField), StartField, assumeUtc: false) ?? start;
            end = ImportValues.Instant(ImportValues.Text(element, EndField), EndField, assumeUtc: false) ?? end;
        }
        catch (FormatException ex)
        {
            output.Add(ImportRecord.Reject(source, ex.Message));
            return;
        }

        if (element.TryGetProperty("results", out JsonElement results) && results.ValueKind == JsonValueKind.Array)
        {
            Visit(results, start, end, source, context, output);
            return;
        }

        Guard(source, output, () => Result(name => Field(element, name), start, end, source, context));
    }
}

/// <summary>
/// OpenAI's organization usage API for completions (<c>GET /v1/organization/usage/completions</c>): a page
/// (<c>{"object":"page","data":[buckets]}</c>), a bucket (<c>{"object":"bucket","start_time","end_time","results":[...]}</c>)
/// or one result per line with the bucket's <c>start_time</c>/<c>end_time</c> beside it; the CSV export has the
/// same names as columns. Each result is one event at its bucket's start, carrying the bucket's totals.
/// </summary>
/// <remarks>
/// <c>input_tokens</c> includes cached and cache-write tokens (as the service's canonical form);
/// <c>input_cached_tokens</c> → cache reads, <c>input_cache_write_tokens</c> → cache writes, audio likewise; a part
/// reported larger than its total is added to it. The id is derived from the bucket and the group-by values, never
/// from the counts, so the same bucket exported twice is one event; buckets still open (ending in the future) are
/// skipped, since their counts would still grow. A result without <c>model</c> (exported without
/// <c>group_by=model</c>) cannot be priced and is rejected. Batch rows are tagged (<c>batch=true</c>) but priced at
/// list prices.
/// </remarks>
internal sealed class OpenAiUsageFormat : BucketReportFormat
{
    public override string Name => "openai-usage";

    protected override string StartField => "start_time";

    protected override string EndField => "end_time";

    public override void Map(CsvRow row, string source, ImportContext context, List<ImportRecord> output) =>
        MapCsv(row, name => row[name], source, context, output);

    protected override ImportRecord Result(Func<string, string?> get, DateTimeOffset? start, DateTimeOffset? end, string source, ImportContext context)
    {
        string? kind = get("object");
        if (kind is not null && kind != "organization.usage.completions.result")
        {
            return ImportRecord.Skip(source, $"not a completions result ({kind})");
        }

        if (Refuse(get, start, end, source, context, "export with group_by=model", out string model) is { } refused)
        {
            return refused;
        }

        var usage = new Dictionary<string, long>(StringComparer.Ordinal);
        ImportValues.Put(usage, UsageKeys.InputTokens, ImportValues.Count(get("input_tokens"), "input_tokens") ?? 0);
        ImportValues.Put(usage, UsageKeys.CacheReadTokens, ImportValues.Count(get("input_cached_tokens"), "input_cached_tokens"));
        ImportValues.Put(usage, UsageKeys.CacheWriteTokens, ImportValues.Count(get("input_cache_write_tokens"), "input_cache_write_tokens"));
        ImportValues.Put(usage, UsageKeys.InputAudioTokens, ImportValues.Count(get("input_audio_tokens"), "input_audio_tokens"));
        ImportValues.Put(usage, UsageKeys.CacheAudioReadTokens, ImportValues.Count(get("input_cached_audio_tokens"), "input_cached_audio_tokens"));
        ImportValues.Put(usage, UsageKeys.OutputTokens, ImportValues.Count(get("output_tokens"), "output_tokens") ?? 0);
        ImportValues.Put(usage, UsageKeys.OutputAudioTokens, ImportValues.Count(get("output_audio_tokens"), "output_audio_tokens"));
        long? requests = ImportValues.Count(get("num_model_requests"), "num_model_requests");

        string? project = get("project_id");
        string? user = get("user_id");
        string? apiKey = get("api_key_id");
        string? batch = get("batch");
        string? tier = get("service_tier");
        var tags = new Dictionary<string, string>(StringComparer.Ordinal) { ["import_source"] = "openai-usage" };
        AddTag(tags, "requests", requests?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AddTag(tags, "openai_project", project);
        AddTag(tags, "openai_api_key", apiKey);
        AddTag(tags, "batch", batch);
        AddTag(tags, "service_tier", tier);
        return ImportRecord.Send(source, new UsageEvent
        {
            EventId = ImportContext.EventId("oai", start.Value.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
                end?.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), project, user, apiKey, model, batch, tier),
            TenantId = context.TenantId,
            UserId = ImportContext.Id(user) ?? ImportContext.Id(apiKey) ?? ImportContext.Id(project) ?? context.DefaultUser,
            TeamId = ImportContext.Id(project),
            Provider = "openai",
            Model = model,
            Timestamp = start,
            Usage = ImportValues.Inclusive(usage),
            Tags = tags,
        });
    }

    internal static void AddTag(Dictionary<string, string> tags, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            tags[name] = value.Length > 256 ? value[..256] : value;
        }
    }
}

/// <summary>
/// Anthropic's Admin API messages usage report (<c>GET /v1/organizations/usage_report/messages</c>): a page
/// (<c>{"data":[{"starting_at","ending_at","results":[...]}]}</c>), a bucket, or one result per line with
/// <c>starting_at</c>/<c>ending_at</c>; CSV with the same names (<c>cache_creation.ephemeral_5m_input_tokens</c> or
/// <c>cache_creation_5m_input_tokens</c> for the nested counts).
/// </summary>
/// <remarks>
/// Anthropic counts <c>uncached_input_tokens</c> apart from cache reads and writes; the canonical input is their sum,
/// cache writes are the 5-minute plus 1-hour ones (the 1-hour part kept apart, it is priced higher), and
/// <c>server_tool_use.web_search_requests</c> becomes web searches. Ids come from the bucket and the group-by values
/// (workspace, API key, account, model, service tier, context window, inference geo, speed).
/// </remarks>
internal sealed class AnthropicUsageFormat : BucketReportFormat
{
    private static readonly string[] Dimensions =
        ["workspace_id", "api_key_id", "account_id", "service_account_id", "model", "service_tier", "context_window", "inference_geo", "speed"];

    public override string Name => "anthropic-usage";

    protected override string StartField => "starting_at";

    protected override string EndField => "ending_at";

    public override void Map(CsvRow row, string source, ImportContext context, List<ImportRecord> output) =>
        MapCsv(row, name => row[name] ?? row[name.Replace("cache_creation.ephemeral_", "cache_creation_", StringComparison.Ordinal)]
            ?? row[name.Replace("server_tool_use.", string.Empty, StringComparison.Ordinal)], source, context, output);

    protected override ImportRecord Result(Func<string, string?> get, DateTimeOffset? start, DateTimeOffset? end, string source, ImportContext context)
    {
        if (Refuse(get, start, end, source, context, "report with group_by[]=model", out string model) is { } refused)
        {
            return refused;
        }

        long uncached = ImportValues.Count(get("uncached_input_tokens"), "uncached_input_tokens") ?? 0;
        long read = ImportValues.Count(get("cache_read_input_tokens"), "cache_read_input_tokens") ?? 0;
        long write5m = ImportValues.Count(get("cache_creation.ephemeral_5m_input_tokens"), "cache_creation.ephemeral_5m_input_tokens") ?? 0;
        long write1h = ImportValues.Count(get("cache_creation.ephemeral_1h_input_tokens"), "cache_creation.ephemeral_1h_input_tokens") ?? 0;
        long output = ImportValues.Count(get("output_tokens"), "output_tokens") ?? 0;
        long searches = ImportValues.Count(get("server_tool_use.web_search_requests"), "server_tool_use.web_search_requests") ?? 0;
        var usage = new Dictionary<string, long>(StringComparer.Ordinal)
        {
            [UsageKeys.InputTokens] = checked(uncached + read + write5m + write1h),
            [UsageKeys.CacheReadTokens] = read,
            [UsageKeys.CacheWriteTokens] = write5m + write1h,
            [UsageKeys.CacheWrite1hTokens] = write1h,
            [UsageKeys.OutputTokens] = output,
            [UsageKeys.WebSearches] = searches,
        };

        var tags = new Dictionary<string, string>(StringComparer.Ordinal) { ["import_source"] = "anthropic-usage" };
        foreach (string dimension in Dimensions.Where(d => d != "model"))
        {
            OpenAiUsageFormat.AddTag(tags, dimension, get(dimension));
        }

        string?[] identity = [start.Value.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
            end?.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), .. Dimensions.Select(get)];
        return ImportRecord.Send(source, new UsageEvent
        {
            EventId = ImportContext.EventId("ant", identity),
            TenantId = context.TenantId,
            UserId = ImportContext.Id(get("account_id")) ?? ImportContext.Id(get("api_key_id")) ?? ImportContext.Id(get("workspace_id")) ?? context.DefaultUser,
            TeamId = ImportContext.Id(get("workspace_id")),
            Provider = "anthropic",
            Model = model,
            Timestamp = start,
            Usage = usage,
            Tags = tags,
        });
    }
}
