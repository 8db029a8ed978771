namespace LlmCost.Functions.Hosting;

/// <summary>
/// Names shared by every module for API-key auth (Authorization: Bearer &lt;key&gt;). The scheme, key store and
/// key-management endpoints live in Hosting/Auth; modules only use these names.
/// </summary>
public static class LlmCostAuth
{
    public const string Scheme = "ApiKey";

    /// <summary>Policies: admin = everything; ingest = post usage for its tenant; reader = read its tenant (or only its own user).</summary>
    public const string AdminPolicy = "admin";
    public const string IngestPolicy = "ingest";
    public const string ReaderPolicy = "reader";

    /// <summary>Claims carried by an authenticated key.</summary>
    public const string TenantClaim = "llmcost:tenant";
    public const string RoleClaim = "llmcost:role";
    public const string UserClaim = "llmcost:user";
    public const string KeyIdClaim = "llmcost:key";
}
