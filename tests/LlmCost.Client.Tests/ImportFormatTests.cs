extern alias cli;

using System.Text;
using System.Text.Json;
using cli::LlmCost.Cli.Import;

namespace LlmCost.Client.Tests;

/// <summary>The import mappings, from each source's documented shape to the events sent (no service needed).</summary>
public sealed class ImportFormatTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    private static List<ImportRecord> Read(string format, string content, string extension = ".jsonl")
    {
        string path = Path.Combine(Path.GetTempPath(), "llmcost-import-" + Guid.NewGuid().ToString("N") + extension);
        File.WriteAllText(path, content, Encoding.UTF8);
        try
        {
            using var source = new ImportSource(path, ImportFormat.ByName(format)!, new ImportContext("acme", "import", Now));
            return source.Records().ToList();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void OpenAI_usage_page_results_become_one_event_per_result_at_the_bucket_start()
    {
        const string page = """
            {"object":"page","data":[{"object":"bucket","start_time":1730419200,"end_time":1730505600,"results":[
              {"object":"organization.usage.completions.result","input_tokens":1000,"output_tokens":500,"input_cached_tokens":800,
               "num_model_requests":5,"project_id":"proj_1","user_id":null,"api_key_id":"key_1","model":"gpt-4o-2024-08-06","batch":false},
              {"object":"organization.usage.completions.result","input_tokens":10,"output_tokens":5,"num_model_requests":1,"model":null}]},
              {"object":"bucket","start_time":1780272000,"end_time":1780358400,"results":[
              {"object":"organization.usage.completions.result","input_tokens":1,"output_tokens":1,"num_model_requests":1,"model":"gpt-4o"}]}],
             "has_more":false,"next_page":null}
            """;

        List<ImportRecord> records = Read("openai-usage", page, ".json");

        Assert.Equal(3, records.Count);
        UsageEvent e = records[0].Event!;
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1730419200), e.Timestamp);
        Assert.Equal(("openai", "gpt-4o-2024-08-06", "key_1", "proj_1"), (e.Provider, e.Model, e.UserId, e.TeamId));
        Assert.Equal(1000, e.Usage![UsageKeys.InputTokens]);
        Assert.Equal(800, e.Usage[UsageKeys.CacheReadTokens]);
        Assert.Equal("5", e.Tags!["requests"]);
        Assert.StartsWith("oai-", e.EventId, StringComparison.Ordinal);
        Assert.Contains("group_by=model", records[1].Rejected, StringComparison.Ordinal);
        Assert.Contains("not complete", records[2].Skipped, StringComparison.Ordinal); // 2026-06-01 bucket still open

        // The id depends on the bucket and its group-by values only: the same bucket exported again is one event.
        string again = page.Replace("\"input_tokens\":1000", "\"input_tokens\":1200", StringComparison.Ordinal);
        Assert.Equal(e.EventId, Read("openai-usage", again, ".json")[0].Event!.EventId);
    }

    [Fact]
    public void OpenAI_csv_export_uses_the_same_names_as_columns()
    {
        const string csv = """
            start_time,end_time,project_id,api_key_id,model,input_tokens,input_cached_tokens,output_tokens,num_model_requests
            2024-11-01T00:00:00Z,2024-11-02T00:00:00Z,proj_1,key_1,gpt-4o-mini,2000,500,300,3
            """;

        UsageEvent e = Assert.Single(Read("openai-usage", csv, ".csv")).Event!;

        Assert.Equal(new DateTimeOffset(2024, 11, 1, 0, 0, 0, TimeSpan.Zero), e.Timestamp);
        Assert.Equal((2000L, 500L, 300L), (e.Usage![UsageKeys.InputTokens], e.Usage[UsageKeys.CacheReadTokens], e.Usage[UsageKeys.OutputTokens]));
    }

    [Fact]
    public void Anthropic_usage_report_adds_cache_reads_and_writes_to_the_uncached_input()
    {
        const string line = """
            {"starting_at":"2025-08-01T00:00:00Z","ending_at":"2025-08-02T00:00:00Z","results":[{"uncached_input_tokens":1500,
             "cache_creation":{"ephemeral_1h_input_tokens":1000,"ephemeral_5m_input_tokens":500},"cache_read_input_tokens":200,
             "output_tokens":500,"server_tool_use":{"web_search_requests":10},"api_key_id":"apikey_01","workspace_id":"wrkspc_01",
             "model":"claude-sonnet-4-20250514","service_tier":"standard","context_window":"0-200k"}]}
            """;

        UsageEvent e = Assert.Single(Read("anthropic-usage", line.ReplaceLineEndings(" "))).Event!;

        Assert.Equal(("anthropic", "apikey_01", "wrkspc_01"), (e.Provider, e.UserId, e.TeamId));
        Assert.Equal(new Dictionary<string, long>
        {
            [UsageKeys.InputTokens] = 3200, [UsageKeys.CacheReadTokens] = 200, [UsageKeys.CacheWriteTokens] = 1500,
            [UsageKeys.CacheWrite1hTokens] = 1000, [UsageKeys.OutputTokens] = 500, [UsageKeys.WebSearches] = 10,
        }, e.Usage);
        Assert.Equal("0-200k", e.Tags!["context_window"]);
    }

    [Fact]
    public void LiteLLM_spend_logs_keep_the_request_id_and_read_the_usage_object()
    {
        const string csv = """
            request_id,call_type,api_key,spend,total_tokens,prompt_tokens,completion_tokens,startTime,endTime,model,custom_llm_provider,user,metadata,cache_hit,team_id,end_user,status
            chatcmpl-abc123,acompletion,hashed,0.0021,1300,1000,300,2025-01-15 10:23:45.123,2025-01-15 10:23:46.623,gpt-4o,openai,,"{""usage_object"":{""prompt_tokens"":1000,""completion_tokens"":300,""prompt_tokens_details"":{""cached_tokens"":400}},""user_api_key_user_id"":""alice""}",False,team-red,,success
            req-2,acompletion,hashed,0,10,5,5,2025-01-15 10:24:00,2025-01-15 10:24:00,gpt-4o,openai,bob,{},True,,,success
            req-3,acompletion,hashed,0,0,0,0,2025-01-15T10:25:00+00:00,2025-01-15T10:25:01+00:00,claude-3-5-haiku-20241022,anthropic,,{},False,,carol,failure
            """;

        List<ImportRecord> records = Read("litellm-spend", csv, ".csv");

        UsageEvent first = records[0].Event!;
        Assert.Equal("chatcmpl-abc123", first.EventId); // the provider's id: a call also recorded live is counted once
        Assert.Equal(("alice", "team-red", "openai"), (first.UserId, first.TeamId, first.Provider));
        Assert.Equal(new DateTimeOffset(2025, 1, 15, 10, 23, 45, 123, TimeSpan.Zero), first.Timestamp); // LiteLLM writes UTC
        Assert.Equal(1500, first.LatencyMs);
        Assert.Equal((1000L, 400L, 300L), (first.Usage![UsageKeys.InputTokens], first.Usage[UsageKeys.CacheReadTokens], first.Usage[UsageKeys.OutputTokens]));
        Assert.Equal("0.0021", first.Tags!["litellm_spend_usd"]);
        Assert.Contains("cache hit", records[1].Skipped, StringComparison.Ordinal);
        Assert.Equal(("carol", "error", "anthropic"), (records[2].Event!.UserId, records[2].Event!.Status, records[2].Event!.Provider));
    }

    [Fact]
    public void Generic_csv_ids_are_stable_and_identical_rows_stay_distinct_calls()
    {
        const string csv = """
            timestamp,user_id,model,input_tokens,output_tokens,tag.feature
            2025-03-01T10:00:00Z,alice,gpt-4o-mini,100,10,search
            2025-03-01T10:00:00Z,alice,gpt-4o-mini,100,10,search
            2025-03-01T10:00:01Z,bob,gpt-4o-mini,-5,10,
            2025-03-01 10:00:02,bob,gpt-4o-mini,5,10,
            """;

        List<ImportRecord> first = Read("csv", csv, ".csv");
        List<ImportRecord> second = Read("csv", csv, ".csv");

        Assert.NotEqual(first[0].Event!.EventId, first[1].Event!.EventId);
        Assert.Equal(first.Select(r => r.Event?.EventId), second.Select(r => r.Event?.EventId));
        Assert.Equal("search", first[0].Event!.Tags!["feature"]);
        Assert.Contains("input_tokens must be a non-negative whole number", first[2].Rejected, StringComparison.Ordinal);
        Assert.Contains("with an offset", first[3].Rejected, StringComparison.Ordinal);
    }

    [Fact]
    public void Unreadable_lines_are_rejected_one_by_one_and_the_rest_goes_on()
    {
        List<ImportRecord> records = Read("csv", """
            {"timestamp":"2025-03-01T10:00:00Z","model":"gpt-4o-mini","input_tokens":1}
            {"timestamp":
            {"timestamp":"2025-03-01T10:00:01Z","model":"gpt-4o-mini","output_tokens":2}
            """);

        Assert.Equal(3, records.Count);
        Assert.NotNull(records[0].Event);
        Assert.StartsWith("not JSON", records[1].Rejected, StringComparison.Ordinal);
        Assert.Equal(2, records[2].Event!.Usage![UsageKeys.OutputTokens]);
    }
}
