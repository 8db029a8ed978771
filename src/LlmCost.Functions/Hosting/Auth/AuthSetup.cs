using LlmCost.Core.Recording;
using Microsoft.AspNetCore.Authentication;

namespace LlmCost.Functions.Hosting.Auth;

public static class AuthSetup
{
    /// <summary>
    /// API-key authentication and the three policies of <see cref="LlmCostAuth"/>: admin = admin keys; ingest =
    /// admin or ingest; reader = admin or reader (user-bound readers are narrowed further by <see cref="CallerAccess"/>).
    /// </summary>
    public static IServiceCollection AddLlmCostAuth(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new LlmCostAuthOptions();
        configuration.GetSection("LlmCost:Auth").Bind(options);
        // LLMCOST_ADMIN_KEY (environment) wins over LlmCost:AdminKey (settings file).
        options.AdminKey = configuration["LLMCOST_ADMIN_KEY"] is { Length: > 0 } fromEnv ? fromEnv : configuration["LlmCost:AdminKey"];
        services.AddSingleton(options);
        services.AddSingleton<ApiKeyService>();
        services.AddSingleton<LlmCost.Core.Retention.IUserDataHolder, ApiKeyUserData>();
        services.AddAuthentication(LlmCostAuth.Scheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(LlmCostAuth.Scheme, _ => { });
        services.AddAuthorizationBuilder()
            .AddPolicy(LlmCostAuth.AdminPolicy, p => p.RequireClaim(LlmCostAuth.RoleClaim, ApiKeyRoles.Admin))
            .AddPolicy(LlmCostAuth.IngestPolicy, p => p.RequireClaim(LlmCostAuth.RoleClaim, ApiKeyRoles.Admin, ApiKeyRoles.Ingest))
            .AddPolicy(LlmCostAuth.ReaderPolicy, p => p.RequireClaim(LlmCostAuth.RoleClaim, ApiKeyRoles.Admin, ApiKeyRoles.Reader));
        return services;
    }
}
