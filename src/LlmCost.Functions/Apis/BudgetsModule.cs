namespace LlmCost.Functions;

/// <summary>The Budgets module: budgets (issue 5). Registers its services and maps its endpoints and functions.</summary>
public static class BudgetsModule
{
    public static IServiceCollection AddBudgetsModule(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services;
    }

    public static IEndpointRouteBuilder MapBudgetsModule(this IEndpointRouteBuilder endpoints)
    {
        return endpoints;
    }
}
