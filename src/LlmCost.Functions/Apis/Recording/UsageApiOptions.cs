using LlmCost.Core.Recording;

namespace LlmCost.Functions.Apis.Recording;

/// <summary>Settings under <c>LlmCost:Usage</c> (all documented in local.settings.sample.json).</summary>
public sealed class UsageApiOptions
{
    public const string Section = "LlmCost:Usage";

    /// <summary>Unknown fields in an event are a 400 (default false: ignored).</summary>
    public bool StrictMode { get; set; }

    /// <summary>Largest accepted request body; larger is 413.</summary>
    public long MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Most events in one POST /api/usage.</summary>
    public int MaxEventsPerRequest { get; set; } = 500;

    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromMinutes(5);

    public TimeSpan MaxEventAge { get; set; } = TimeSpan.FromDays(400);

    /// <summary>How old an event of an admin import (<c>POST /api/usage?import=true</c>) may be.</summary>
    public TimeSpan MaxImportAge { get; set; } = TimeSpan.FromDays(1096);

    /// <summary>Longest from..to range of a usage query.</summary>
    public int MaxQueryDays { get; set; } = 400;

    public int DefaultPageSize { get; set; } = 100;

    public int MaxPageSize { get; set; } = 1000;

    public RecordingLimits ToLimits() => new()
    {
        Strict = StrictMode,
        MaxFutureSkew = MaxFutureSkew,
        MaxAge = MaxEventAge,
    };
}
