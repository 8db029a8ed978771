using LlmCost.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="LlmCostClient"/> (and <see cref="ILlmCostClient"/>) as a singleton.</summary>
public static class LlmCostServiceCollectionExtensions
{
    /// <summary>The name of the <see cref="HttpClient"/> the client uses (add handlers through the returned builder).</summary>
    public const string HttpClientName = "LlmCost";

    /// <summary>
    /// Adds the client, bound to the configuration section <paramref name="configSectionPath"/> (default
    /// <c>LlmCost:Client</c>) and then <paramref name="configure"/>, validated at start-up.
    /// </summary>
    public static IHttpClientBuilder AddLlmCostClient(
        this IServiceCollection services,
        Action<LlmCostClientOptions>? configure = null,
        string configSectionPath = LlmCostClientOptions.DefaultSection)
    {
        ArgumentNullException.ThrowIfNull(services);
        // Bound from configuration when the app has one (a generic host always does; a bare ServiceCollection may not).
        OptionsBuilder<LlmCostClientOptions> options = services.AddOptions<LlmCostClientOptions>()
            .Configure<IServiceProvider>((o, sp) => sp.GetService<IConfiguration>()?.GetSection(configSectionPath).Bind(o));
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LlmCostClientOptions>, LlmCostClientOptionsValidator>());
        services.TryAddSingleton(sp => new LlmCostClient(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName),
            sp.GetRequiredService<IOptions<LlmCostClientOptions>>().Value,
            sp.GetService<TimeProvider>(),
            sp.GetService<ILogger<LlmCostClient>>()));
        services.TryAddSingleton<ILlmCostClient>(sp => sp.GetRequiredService<LlmCostClient>());

        // The client is a long-lived singleton holding its HttpClient, so connections are recycled by the handler
        // (DNS changes are seen) rather than by the factory rotating handlers under it.
        return services.AddHttpClient(HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
    }

    private sealed class LlmCostClientOptionsValidator : IValidateOptions<LlmCostClientOptions>
    {
        public ValidateOptionsResult Validate(string? name, LlmCostClientOptions options)
        {
            List<string> problems = options.Validate().ToList();
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
