using System.Text.Json;
using LlmCost.Client;

namespace LlmCost.Cli.Import;

/// <summary>
/// LiteLLM proxy spend logs: rows of its <c>LiteLLM_SpendLogs</c> table (a CSV export of the table, or JSON lines /
/// arrays as <c>/spend/logs</c> answers). One row per request.
/// </summary>
/// <remarks>
/// The event id is LiteLLM's <c>request_id</c> (usually the provider's response id, so the same call recorded live
/// is not counted twice). Tokens come from <c>metadata.usage_object</c> when present (OpenAI-style:
/// <c>prompt_tokens</c> including <c>prompt_tokens_details.cached_tokens</c>; <c>cache_creation_input_tokens</c>;
/// <c>completion_tokens_details.reasoning_tokens</c>), else from <c>prompt_tokens</c>/<c>completion_tokens</c>.
/// User: <c>end_user</c>, else <c>user</c>, else <c>metadata.user_api_key_user_id</c>; team: <c>team_id</c>.
/// <c>startTime</c> without an offset is UTC (LiteLLM writes UTC). Cache hits (<c>cache_hit</c> true: answered by
/// LiteLLM's cache, no provider call) are skipped; failed requests are recorded as <c>status: error</c>. LiteLLM's own
/// <c>spend</c> is kept as the tag <c>litellm_spend_usd</c> for reconciliation.
/// </remarks>
internal sealed class LiteLlmSpendFormat : ImportFormat
{
    private static readonly Dictionary<string, string> Providers = new(StringComparer.OrdinalIgnoreCase)
    {
        ["openai"] = "openai", ["text-completion-openai"] = "openai", ["anthropic"] = "anthropic", ["azure"] = "azure",
        ["azure_ai"] = "azure", ["gemini"] = "google", ["vertex_ai"] = "google", ["vertex_ai_beta"] = "google",
        ["bedrock"] = "aws", ["mistral"] = "mistral", ["groq"] = "groq", ["deepseek"] = "deepseek", ["xai"] = "x-ai",
        ["cohere"] = "cohere", ["together_ai"] = "together", ["fireworks_ai"] = "fireworks", ["perplexity"] = "perplexity",
    };

    public override string Name => "litellm-spend";

    public override void Map(JsonElement element, string source, ImportContext context, List<ImportRecord> output)
    {
        if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in element.EnumerateArray())
            {
                Map(item, source, context, output);
            }

            return;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            output.Add(ImportRecord.Reject(source, "expected a spend log object"));
            return;
        }

        Guard(source, output, () => Row(name => ImportValues.Text(element, name),
            element.TryGetProperty("metadata", out JsonElement m) ? m : default, source, context));
    }

    public override void Map(CsvRow row, string source, ImportContext context, List<ImportRecord> output) =>
        Guard(source, output, () =>
        {
            JsonElement metadata = default;
            if (row["metadata"] is { } text)
            {
                try
                {
                    metadata = JsonDocument.Parse(text).RootElement;
                }
                catch (JsonException)
                {
                    throw new FormatException("metadata is not JSON");
                }
            }

            return Row(name => row[name], metadata, source, context);
        });

    private static ImportRecord Row(Func<string, string?> get, JsonElement metadata, string source, ImportContext context)
    {
        string? requestId = get("request_id");
        if (requestId is null)
        {
            throw new FormatException("request_id is required");
        }

        if (get("cache_hit") is { } hit && (hit.Equals("true", StringComparison.OrdinalIgnoreCase) || hit == "1"))
        {
            return ImportRecord.Skip(source, "LiteLLM cache hit (no provider call)");
        }

        string? model = get("model") ?? get("model_group");
        if (model is null)
        {
            throw new FormatException("model is required");
        }

        DateTimeOffset timestamp = ImportValues.Instant(get("startTime") ?? get("start_time"), "startTime", assumeUtc: true)
            ?? throw new FormatException("startTime is required");
        var usage = new Dictionary<string, long>(StringComparer.Ordinal);
        if (metadata.ValueKind == JsonValueKind.Object && metadata.TryGetProperty("usage_object", out JsonElement u) && u.ValueKind == JsonValueKind.Object)
        {
            ImportValues.Put(usage, UsageKeys.InputTokens, ImportValues.Count(u, "prompt_tokens") ?? 0);
            long? cached = u.TryGetProperty("prompt_tokens_details", out JsonElement pd) ? ImportValues.Count(pd, "cached_tokens") : null;
            ImportValues.Put(usage, UsageKeys.CacheReadTokens, cached ?? ImportValues.Count(u, "cache_read_input_tokens"));
            ImportValues.Put(usage, UsageKeys.CacheWriteTokens, ImportValues.Count(u, "cache_creation_input_tokens"));
            ImportValues.Put(usage, UsageKeys.OutputTokens, ImportValues.Count(u, "completion_tokens") ?? 0);
            ImportValues.Put(usage, UsageKeys.ReasoningTokens,
                u.TryGetProperty("completion_tokens_details", out JsonElement cd) ? ImportValues.Count(cd, "reasoning_tokens") : null);
        }
        else
        {
            ImportValues.Put(usage, UsageKeys.InputTokens, ImportValues.Count(get("prompt_tokens"), "prompt_tokens") ?? 0);
            ImportValues.Put(usage, UsageKeys.OutputTokens, ImportValues.Count(get("completion_tokens"), "completion_tokens") ?? 0);
        }

        string? user = ImportContext.Id(get("end_user")) ?? ImportContext.Id(get("user"))
            ?? ImportContext.Id(metadata.ValueKind == JsonValueKind.Object ? ImportValues.Text(metadata, "user_api_key_user_id") : null);
        string? team = ImportContext.Id(get("team_id"))
            ?? ImportContext.Id(metadata.ValueKind == JsonValueKind.Object ? ImportValues.Text(metadata, "user_api_key_team_id") : null);
        long? latency = ImportValues.Count(get("request_duration_ms"), "request_duration_ms");
        if (latency is null && ImportValues.Instant(get("endTime") ?? get("end_time"), "endTime", assumeUtc: true) is { } ended && ended >= timestamp)
        {
            latency = (long)(ended - timestamp).TotalMilliseconds;
        }

        var tags = new Dictionary<string, string>(StringComparer.Ordinal) { ["import_source"] = "litellm-spend" };
        OpenAiUsageFormat.AddTag(tags, "litellm_spend_usd", get("spend"));
        OpenAiUsageFormat.AddTag(tags, "call_type", get("call_type"));
        OpenAiUsageFormat.AddTag(tags, "model_group", get("model_group"));
        OpenAiUsageFormat.AddTag(tags, "session_id", get("session_id"));
        string? status = get("status");
        return ImportRecord.Send(source, new UsageEvent
        {
            EventId = ImportContext.NaturalOrHashed("litellm", requestId),
            TenantId = context.TenantId,
            UserId = user ?? context.DefaultUser,
            TeamId = team,
            Provider = get("custom_llm_provider") is { } p && Providers.TryGetValue(p, out string? mapped) ? mapped : null,
            Model = model,
            Timestamp = timestamp,
            Usage = ImportValues.Inclusive(usage),
            LatencyMs = latency is { } l && l <= 86_400_000 ? l : null,
            Status = status is not null && !status.Equals("success", StringComparison.OrdinalIgnoreCase) ? "error" : null,
            Tags = tags,
        });
    }
}

/// <summary>
/// The documented generic CSV (also JSON lines with the same names): <c>timestamp</c> (unix seconds or ISO 8601
/// with an offset) and <c>model</c> are required; <c>event_id</c>, <c>user_id</c>, <c>team_id</c>, <c>app</c>,
/// <c>provider</c>, <c>latency_ms</c>, <c>status</c> (success/error), the canonical usage keys
/// (<c>input_tokens</c> ... <c>web_searches</c>) and <c>tag.NAME</c> columns are optional. Without <c>event_id</c>
/// the id is derived from the row's content (and its occurrence number among identical rows of the file).
/// </summary>
internal sealed class GenericCsvFormat : ImportFormat
{
    private static readonly string[] UsageColumns =
    [
        UsageKeys.InputTokens, UsageKeys.CacheReadTokens, UsageKeys.CacheWriteTokens, UsageKeys.CacheWrite1hTokens,
        UsageKeys.InputAudioTokens, UsageKeys.CacheAudioReadTokens, UsageKeys.OutputTokens, UsageKeys.ReasoningTokens,
        UsageKeys.OutputAudioTokens, UsageKeys.WebSearches,
    ];

    public override string Name => "csv";

    public override void Map(JsonElement element, string source, ImportContext context, List<ImportRecord> output)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            output.Add(ImportRecord.Reject(source, "expected one object per line"));
            return;
        }

        var cells = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (JsonProperty property in element.EnumerateObject())
        {
            if (property.Name == "tags" && property.Value.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty tag in property.Value.EnumerateObject())
                {
                    cells["tag." + tag.Name] = tag.Value.ToString();
                }
            }
            else if (ImportValues.Text(element, property.Name) is { } text)
            {
                cells[property.Name] = text;
            }
        }

        Map(new CsvRow(cells), source, context, output);
    }

    public override void Map(CsvRow row, string source, ImportContext context, List<ImportRecord> output) =>
        Guard(source, output, () =>
        {
            string model = row["model"] ?? throw new FormatException("model is required");
            DateTimeOffset timestamp = ImportValues.Instant(row["timestamp"], "timestamp", assumeUtc: false)
                ?? throw new FormatException("timestamp is required");
            var usage = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (string column in UsageColumns)
            {
                ImportValues.Put(usage, column, ImportValues.Count(row[column], column));
            }

            var tags = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach ((string name, string value) in row.Cells)
            {
                if (name.StartsWith("tag.", StringComparison.OrdinalIgnoreCase) && value.Length > 0)
                {
                    tags[name[4..]] = value;
                }
            }

            string? status = row["status"];
            if (status is not null && status is not ("success" or "error"))
            {
                throw new FormatException($"status must be success or error, got '{status}'");
            }

            string eventId = row["event_id"] is { } given
                ? ImportContext.NaturalOrHashed("csv", given)
                : context.ContentId("csv", row.Cells.OrderBy(c => c.Key, StringComparer.OrdinalIgnoreCase).Select(c => c.Key + "=" + c.Value));
            return ImportRecord.Send(source, new UsageEvent
            {
                EventId = eventId,
                TenantId = context.TenantId,
                UserId = row["user_id"] ?? context.DefaultUser,
                TeamId = row["team_id"],
                App = row["app"],
                Provider = row["provider"],
                Model = model,
                Timestamp = timestamp,
                Usage = usage,
                LatencyMs = ImportValues.Count(row["latency_ms"], "latency_ms"),
                Status = status,
                Tags = tags.Count == 0 ? null : tags,
            });
        });
}
