using LlmCost.Functions.Apis.Dashboard;

namespace LlmCost.Functions;

/// <summary>
/// The dashboard: its static site at /dashboard/ and the read endpoints it needs beyond the usage API (who a key
/// is, breakdowns, the FinOps FOCUS export). The page itself only calls the public API.
/// </summary>
public static class DashboardModule
{
    public static IEndpointRouteBuilder MapDashboardModule(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapDashboardSite();
        endpoints.MapBreakdownEndpoints();
        endpoints.MapFocusExport();
        return endpoints;
    }
}
