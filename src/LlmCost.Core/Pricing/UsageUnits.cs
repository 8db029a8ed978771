namespace LlmCost.Core.Pricing;

/// <summary>One usage unit of genai-prices: a usage key, its price key, the price's denominator and its dimensions.</summary>
/// <remarks>
/// A unit is an ancestor of another when its dimensions are a strict subset of the other's (e.g. input_tokens
/// {direction=input, family=tokens} is an ancestor of cache_read_tokens {…, token_type=cache_read}).
/// </remarks>
public sealed class UsageUnit
{
    internal UsageUnit(int index, string usageKey, string priceKey, decimal per, IReadOnlyDictionary<string, string> dimensions)
    {
        Index = index;
        UsageKey = usageKey;
        PriceKey = priceKey;
        Per = per;
        Dimensions = dimensions;
        Direction = dimensions.TryGetValue("direction", out string? direction)
            ? direction == "input" ? UnitDirection.Input : direction == "output" ? UnitDirection.Output : UnitDirection.Other
            : UnitDirection.Other;
    }

    /// <summary>Input units add to genai-prices' `input_price`, output units to `output_price`, the rest only to the total.</summary>
    public UnitDirection Direction { get; }

    /// <summary>Position in <see cref="UsageUnits.All"/> (stable within a version of the registry, never persisted).</summary>
    public int Index { get; }

    /// <summary>The unit's family dimension: tokens, requests, tool_calls, durations, document_pages, ...</summary>
    public string Family => Dimensions.TryGetValue("family", out string? family) ? family : string.Empty;

    /// <summary>How many dimensions the unit fixes: more = more specific.</summary>
    public int Specificity => Dimensions.Count;

    public string UsageKey { get; }

    public string PriceKey { get; }

    /// <summary>Units per price: 1,000,000 for …_mtok, 1,000 for …_kcount, 3,600 for …_hours.</summary>
    public decimal Per { get; }

    public IReadOnlyDictionary<string, string> Dimensions { get; }

    /// <summary>Bit mask (over <see cref="UsageUnits.All"/>) of the strict ancestors of this unit.</summary>
    internal ulong AncestorMask { get; set; }

    /// <summary>Bit mask of the strict descendants of this unit.</summary>
    internal ulong DescendantMask { get; set; }

    internal ulong Bit => 1UL << Index;

    public override string ToString() => UsageKey;
}

public enum UnitDirection
{
    Other,
    Input,
    Output,
}

/// <summary>
/// The registry of usage units, copied from @pydantic/genai-prices 0.1.8 (its unit table, MIT). This table IS the
/// usage model: <see cref="Usage.CanonicalUsage"/> carries a count for any unit here, the canonical JSON keys are the
/// usage keys, storage writes one property per non-zero unit, and a unit's ancestors (its dimensions' strict
/// subsets) are where its tokens fall back to when a model does not price it. Adding a unit is one line below.
/// </summary>
/// <remarks>
/// The constants name the units the typed accessors of <see cref="Usage.CanonicalUsage"/> read (they are the first
/// entries, so their indices never move). Masks are 64-bit: the registry holds at most 64 units (0.1.8 has 59).
/// </remarks>
public static class UsageUnits
{
    internal const int InputTokens = 0;
    internal const int CacheReadTokens = 1;
    internal const int CacheWriteTokens = 2;
    internal const int CacheWrite1hTokens = 3;
    internal const int InputAudioTokens = 4;
    internal const int CacheAudioReadTokens = 5;
    internal const int OutputTokens = 6;
    internal const int OutputReasoningTokens = 7;
    internal const int OutputAudioTokens = 8;
    internal const int WebSearches = 9;
    internal const int Requests = 10;

    private static readonly (string UsageKey, string PriceKey, decimal Per, string Dimensions)[] s_definitions =
    [
        ("input_tokens", "input_mtok", 1000000m, "direction=input,family=tokens"),
        ("cache_read_tokens", "cache_read_mtok", 1000000m, "direction=input,family=tokens,token_type=cache_read"),
        ("cache_write_tokens", "cache_write_mtok", 1000000m, "direction=input,family=tokens,token_type=cache_write"),
        ("cache_write_1h_tokens", "cache_write_1h_mtok", 1000000m, "cache_ttl=1h,direction=input,family=tokens,token_type=cache_write"),
        ("input_audio_tokens", "input_audio_mtok", 1000000m, "direction=input,family=tokens,modality=audio"),
        ("cache_audio_read_tokens", "cache_audio_read_mtok", 1000000m, "direction=input,family=tokens,modality=audio,token_type=cache_read"),
        ("output_tokens", "output_mtok", 1000000m, "direction=output,family=tokens"),
        ("output_reasoning_tokens", "output_reasoning_mtok", 1000000m, "direction=output,family=tokens,token_type=reasoning"),
        ("output_audio_tokens", "output_audio_mtok", 1000000m, "direction=output,family=tokens,modality=audio"),
        ("web_searches", "web_searches_kcount", 1000m, "family=tool_calls,tool_type=web_search"),
        ("requests", "requests_kcount", 1000m, "family=requests"),
        ("audio_seconds", "audio_hours", 3600m, "family=durations,modality=audio"),
        ("cache_audio_write_1h_tokens", "cache_audio_write_1h_mtok", 1000000m, "cache_ttl=1h,direction=input,family=tokens,modality=audio,token_type=cache_write"),
        ("cache_audio_write_5m_tokens", "cache_audio_write_5m_mtok", 1000000m, "cache_ttl=5m,direction=input,family=tokens,modality=audio,token_type=cache_write"),
        ("cache_audio_write_tokens", "cache_audio_write_mtok", 1000000m, "direction=input,family=tokens,modality=audio,token_type=cache_write"),
        ("cache_image_read_tokens", "cache_image_read_mtok", 1000000m, "direction=input,family=tokens,modality=image,token_type=cache_read"),
        ("cache_image_write_1h_tokens", "cache_image_write_1h_mtok", 1000000m, "cache_ttl=1h,direction=input,family=tokens,modality=image,token_type=cache_write"),
        ("cache_image_write_5m_tokens", "cache_image_write_5m_mtok", 1000000m, "cache_ttl=5m,direction=input,family=tokens,modality=image,token_type=cache_write"),
        ("cache_image_write_tokens", "cache_image_write_mtok", 1000000m, "direction=input,family=tokens,modality=image,token_type=cache_write"),
        ("cache_text_read_tokens", "cache_text_read_mtok", 1000000m, "direction=input,family=tokens,modality=text,token_type=cache_read"),
        ("cache_text_write_1h_tokens", "cache_text_write_1h_mtok", 1000000m, "cache_ttl=1h,direction=input,family=tokens,modality=text,token_type=cache_write"),
        ("cache_text_write_5m_tokens", "cache_text_write_5m_mtok", 1000000m, "cache_ttl=5m,direction=input,family=tokens,modality=text,token_type=cache_write"),
        ("cache_text_write_tokens", "cache_text_write_mtok", 1000000m, "direction=input,family=tokens,modality=text,token_type=cache_write"),
        ("cache_video_read_tokens", "cache_video_read_mtok", 1000000m, "direction=input,family=tokens,modality=video,token_type=cache_read"),
        ("cache_video_write_1h_tokens", "cache_video_write_1h_mtok", 1000000m, "cache_ttl=1h,direction=input,family=tokens,modality=video,token_type=cache_write"),
        ("cache_video_write_5m_tokens", "cache_video_write_5m_mtok", 1000000m, "cache_ttl=5m,direction=input,family=tokens,modality=video,token_type=cache_write"),
        ("cache_video_write_tokens", "cache_video_write_mtok", 1000000m, "direction=input,family=tokens,modality=video,token_type=cache_write"),
        ("cache_write_5m_tokens", "cache_write_5m_mtok", 1000000m, "cache_ttl=5m,direction=input,family=tokens,token_type=cache_write"),
        ("code_executions", "code_executions_kcount", 1000m, "family=tool_calls,tool_type=code_execution"),
        ("input_annotated_document_pages", "input_annotated_document_kpages", 1000m, "direction=input,family=document_pages,page_type=annotated"),
        ("input_audio_seconds", "input_audio_hours", 3600m, "direction=input,family=durations,modality=audio"),
        ("input_audio_tool_tokens", "input_audio_tool_mtok", 1000000m, "direction=input,family=tokens,modality=audio,token_type=tool"),
        ("input_characters", "input_mchars", 1000000m, "direction=input,family=characters"),
        ("input_document_pages", "input_document_kpages", 1000m, "direction=input,family=document_pages"),
        ("input_image_tokens", "input_image_mtok", 1000000m, "direction=input,family=tokens,modality=image"),
        ("input_image_tool_tokens", "input_image_tool_mtok", 1000000m, "direction=input,family=tokens,modality=image,token_type=tool"),
        ("input_pixels", "input_gpixels", 1000000000m, "direction=input,family=pixels"),
        ("input_text_messages", "input_text_messages_kcount", 1000m, "direction=input,family=messages,modality=text"),
        ("input_text_tokens", "input_text_mtok", 1000000m, "direction=input,family=tokens,modality=text"),
        ("input_text_tool_tokens", "input_text_tool_mtok", 1000000m, "direction=input,family=tokens,modality=text,token_type=tool"),
        ("input_tool_tokens", "input_tool_mtok", 1000000m, "direction=input,family=tokens,token_type=tool"),
        ("input_video_tokens", "input_video_mtok", 1000000m, "direction=input,family=tokens,modality=video"),
        ("input_video_tool_tokens", "input_video_tool_mtok", 1000000m, "direction=input,family=tokens,modality=video,token_type=tool"),
        ("output_audio_citation_tokens", "output_audio_citation_mtok", 1000000m, "direction=output,family=tokens,modality=audio,token_type=citation"),
        ("output_audio_reasoning_tokens", "output_audio_reasoning_mtok", 1000000m, "direction=output,family=tokens,modality=audio,token_type=reasoning"),
        ("output_audio_seconds", "output_audio_hours", 3600m, "direction=output,family=durations,modality=audio"),
        ("output_citation_tokens", "output_citation_mtok", 1000000m, "direction=output,family=tokens,token_type=citation"),
        ("output_image_citation_tokens", "output_image_citation_mtok", 1000000m, "direction=output,family=tokens,modality=image,token_type=citation"),
        ("output_image_reasoning_tokens", "output_image_reasoning_mtok", 1000000m, "direction=output,family=tokens,modality=image,token_type=reasoning"),
        ("output_image_tokens", "output_image_mtok", 1000000m, "direction=output,family=tokens,modality=image"),
        ("output_text_citation_tokens", "output_text_citation_mtok", 1000000m, "direction=output,family=tokens,modality=text,token_type=citation"),
        ("output_text_reasoning_tokens", "output_text_reasoning_mtok", 1000000m, "direction=output,family=tokens,modality=text,token_type=reasoning"),
        ("output_text_tokens", "output_text_mtok", 1000000m, "direction=output,family=tokens,modality=text"),
        ("output_video_citation_tokens", "output_video_citation_mtok", 1000000m, "direction=output,family=tokens,modality=video,token_type=citation"),
        ("output_video_reasoning_tokens", "output_video_reasoning_mtok", 1000000m, "direction=output,family=tokens,modality=video,token_type=reasoning"),
        ("output_video_tokens", "output_video_mtok", 1000000m, "direction=output,family=tokens,modality=video"),
        ("rerank_searches", "rerank_searches_kcount", 1000m, "family=rerank"),
        ("social_searches", "social_searches_kcount", 1000m, "family=tool_calls,tool_type=social_search"),
        ("storage_searches", "storage_searches_kcount", 1000m, "family=tool_calls,tool_type=storage_search"),
    ];

    private static readonly UsageUnit[] s_all = Build();
    private static readonly Dictionary<string, UsageUnit> s_byPriceKey = s_all.ToDictionary(u => u.PriceKey, StringComparer.Ordinal);
    private static readonly Dictionary<string, UsageUnit> s_byUsageKey = s_all.ToDictionary(u => u.UsageKey, StringComparer.Ordinal);

    public static IReadOnlyList<UsageUnit> All => s_all;

    public static int Count => s_all.Length;

    /// <summary>The units most specific first (more dimensions, then by key): the order leaves are computed in.</summary>
    internal static IReadOnlyList<UsageUnit> MostSpecificFirst { get; } =
        [.. s_all.OrderByDescending(u => u.Specificity).ThenBy(u => u.UsageKey, StringComparer.Ordinal)];

    /// <summary>Bit mask of the tool-call units (web searches, code executions, ...).</summary>
    internal static ulong ToolCallMask { get; } = s_all.Where(u => u.Family == "tool_calls").Aggregate(0UL, (m, u) => m | u.Bit);

    /// <summary>
    /// The pairs of unrelated units (neither an ancestor of the other) whose overlap is <paramref name="join"/>, as
    /// masks: e.g. cache_read_tokens and input_audio_tokens for cache_audio_read_tokens.
    /// </summary>
    internal static IReadOnlyList<ulong> JoinPairs(UsageUnit join) => s_joinPairs.Value[join.Index];

    /// <summary>The registered join of two compatible units (their dimensions' union), from a table built once.</summary>
    internal static UsageUnit? JoinOf(UsageUnit a, UsageUnit b)
    {
        int join = s_joins.Value[(a.Index * s_all.Length) + b.Index];
        return join < 0 ? null : s_all[join];
    }

    private static readonly Lazy<int[]> s_joins = new(() =>
    {
        var joins = new int[s_all.Length * s_all.Length];
        for (int a = 0; a < s_all.Length; a++)
        {
            for (int b = 0; b < s_all.Length; b++)
            {
                joins[(a * s_all.Length) + b] = AreCompatible(s_all[a], s_all[b]) && FindJoin(s_all[a], s_all[b]) is { } join ? join.Index : -1;
            }
        }

        return joins;
    });

    private static readonly Lazy<ulong[][]> s_joinPairs = new(() =>
    {
        var pairs = s_all.Select(_ => new List<ulong>()).ToArray();
        for (int a = 0; a < s_all.Length; a++)
        {
            for (int b = a + 1; b < s_all.Length; b++)
            {
                UsageUnit ua = s_all[a];
                UsageUnit ub = s_all[b];
                bool related = (ua.AncestorMask & ub.Bit) != 0 || (ub.AncestorMask & ua.Bit) != 0;
                if (!related && AreCompatible(ua, ub) && FindJoin(ua, ub) is { } join)
                {
                    pairs[join.Index].Add(ua.Bit | ub.Bit);
                }
            }
        }

        return pairs.Select(p => p.ToArray()).ToArray();
    });

    public static UsageUnit Get(string usageKey) =>
        s_byUsageKey.TryGetValue(usageKey, out UsageUnit? unit) ? unit : throw new ArgumentException($"unknown usage unit '{usageKey}'", nameof(usageKey));

    public static bool TryGetByPriceKey(string priceKey, out UsageUnit unit) => s_byPriceKey.TryGetValue(priceKey, out unit!);

    public static bool TryGetByUsageKey(string usageKey, out UsageUnit unit) => s_byUsageKey.TryGetValue(usageKey, out unit!);

    public static UsageUnit Get(int index) => s_all[index];

    /// <summary>The unit whose dimensions are the union of both units' (when they do not conflict), if registered.</summary>
    internal static UsageUnit? FindJoin(UsageUnit a, UsageUnit b)
    {
        foreach (KeyValuePair<string, string> dimension in a.Dimensions)
        {
            if (b.Dimensions.TryGetValue(dimension.Key, out string? other) && other != dimension.Value)
            {
                return null;
            }
        }

        var union = new Dictionary<string, string>(a.Dimensions, StringComparer.Ordinal);
        foreach (KeyValuePair<string, string> dimension in b.Dimensions)
        {
            union[dimension.Key] = dimension.Value;
        }

        foreach (UsageUnit candidate in s_all)
        {
            if (candidate.Dimensions.Count == union.Count && IsSubset(candidate.Dimensions, union))
            {
                return candidate;
            }
        }

        return null;
    }

    internal static bool AreCompatible(UsageUnit a, UsageUnit b)
    {
        foreach (KeyValuePair<string, string> dimension in a.Dimensions)
        {
            if (b.Dimensions.TryGetValue(dimension.Key, out string? other) && other != dimension.Value)
            {
                return false;
            }
        }

        return true;
    }

    private static UsageUnit[] Build()
    {
        if (s_definitions.Length > 64)
        {
            throw new InvalidOperationException("The unit masks are 64-bit: the registry must stay at 64 units or fewer.");
        }

        var units = new UsageUnit[s_definitions.Length];
        for (int i = 0; i < units.Length; i++)
        {
            (string usageKey, string priceKey, decimal per, string dimensions) = s_definitions[i];
            Dictionary<string, string> parsed = dimensions
                .Split(',')
                .Select(d => d.Split('='))
                .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
            units[i] = new UsageUnit(i, usageKey, priceKey, per, parsed);
        }

        foreach (UsageUnit unit in units)
        {
            foreach (UsageUnit other in units)
            {
                if (!ReferenceEquals(unit, other) && IsSubset(other.Dimensions, unit.Dimensions))
                {
                    unit.AncestorMask |= other.Bit;
                    other.DescendantMask |= unit.Bit;
                }
            }
        }

        return units;
    }

    private static bool IsSubset(IReadOnlyDictionary<string, string> subset, IReadOnlyDictionary<string, string> of)
    {
        foreach (KeyValuePair<string, string> dimension in subset)
        {
            if (!of.TryGetValue(dimension.Key, out string? value) || value != dimension.Value)
            {
                return false;
            }
        }

        return true;
    }
}
