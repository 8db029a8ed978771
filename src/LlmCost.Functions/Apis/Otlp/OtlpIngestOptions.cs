using LlmCost.Core.Recording;

namespace LlmCost.Functions.Apis.Otlp;

/// <summary>Settings under <c>LlmCost:Otlp</c>: the OTLP/HTTP trace receiver at <c>POST /v1/traces</c>.</summary>
public sealed class OtlpIngestOptions
{
    public const string Section = "LlmCost:Otlp";

    /// <summary>Largest accepted body, compressed and after gzip decompression alike; larger is 413.</summary>
    public long MaxBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Most spans (of any kind) in one export; more is 413 (the .NET SDK's batch is 512 by default).</summary>
    public int MaxSpansPerRequest { get; set; } = 10_000;

    /// <summary>Comma-separated attribute names, first present wins, span attributes before resource attributes.</summary>
    public string UserAttributes { get; set; } = "user.id,enduser.id";

    public string TeamAttributes { get; set; } = "llmcost.team_id";

    public string AppAttributes { get; set; } = "service.name";

    /// <summary>Read for admin keys only (which serve every tenant); any other key records into its own tenant.</summary>
    public string TenantAttributes { get; set; } = "llmcost.tenant_id";

    /// <summary>User of a span naming none; empty = such spans are rejected (and reported in the answer).</summary>
    public string FallbackUserId { get; set; } = "unattributed";

    /// <summary>Extra or overriding provider names (<c>LlmCost:Otlp:Providers:my.gateway=openai</c>) over the defaults.</summary>
    public Dictionary<string, string> Providers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public GenAiSpanMapping ToMapping()
    {
        var providers = new Dictionary<string, string>(GenAiSpanMapping.DefaultProviders, StringComparer.OrdinalIgnoreCase);
        foreach ((string name, string provider) in Providers)
        {
            providers[name] = provider;
        }

        return new GenAiSpanMapping
        {
            UserAttributes = Split(UserAttributes),
            TeamAttributes = Split(TeamAttributes),
            AppAttributes = Split(AppAttributes),
            TenantAttributes = Split(TenantAttributes),
            FallbackUserId = string.IsNullOrWhiteSpace(FallbackUserId) ? null : FallbackUserId.Trim(),
            Providers = providers,
        };
    }

    public bool IsValid(out string? problem)
    {
        problem = MaxBodyBytes < 1024 ? "MaxBodyBytes must be at least 1024"
            : MaxSpansPerRequest < 1 ? "MaxSpansPerRequest must be at least 1"
            : Split(UserAttributes).Length == 0 ? "UserAttributes must name at least one attribute"
            : !string.IsNullOrWhiteSpace(FallbackUserId) && RecordKeys.Problem(FallbackUserId.Trim()) is { } id ? $"FallbackUserId {id}"
            : null;
        return problem is null;
    }

    private static string[] Split(string names) =>
        names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
