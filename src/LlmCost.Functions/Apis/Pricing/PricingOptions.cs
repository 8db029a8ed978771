namespace LlmCost.Functions.Apis.Pricing;

/// <summary>Settings under <c>LlmCost:Pricing</c>.</summary>
public sealed class PricingOptions
{
    public const string Section = "LlmCost:Pricing";

    /// <summary>How old this instance's copy of the tenant policies may get before it is reloaded (a change made
    /// on this instance applies at once; on the others within this time).</summary>
    public double PolicyRefreshSeconds { get; set; } = 10;

    /// <summary>How old a tenant's cached month-to-date figure (for volume tiers) may get before ingest re-reads it.</summary>
    public double MonthToDateRefreshSeconds { get; set; } = 5;

    /// <summary>The largest policy body accepted (a policy is stored as one property, at most 64 KiB).</summary>
    public int MaxPolicyBytes { get; set; } = 16 * 1024;

    /// <summary>How often every instance reads the published catalog pointer (a new version is in force everywhere within this time).</summary>
    public double CatalogPollSeconds { get; set; } = 60;

    /// <summary>The largest catalog file accepted by POST /api/pricing/catalogs.</summary>
    public long MaxCatalogBytes { get; set; } = 32L * 1024 * 1024;

    public bool IsValid() =>
        PolicyRefreshSeconds is >= 0 and <= 3600 && MonthToDateRefreshSeconds is >= 0 and <= 3600 && MaxPolicyBytes is >= 1024 and <= 20 * 1024
        && CatalogPollSeconds is >= 0.1 and <= 3600 && MaxCatalogBytes is >= 1024 and <= 256L * 1024 * 1024;
}
