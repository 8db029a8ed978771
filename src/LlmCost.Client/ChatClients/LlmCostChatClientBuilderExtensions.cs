using LlmCost.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.AI;

/// <summary><c>builder.UseLlmCost(...)</c>.</summary>
public static class LlmCostChatClientBuilderExtensions
{
    /// <summary>
    /// Adds the LlmCost middleware: authorise each call against the budgets, record its usage, settle its reservation.
    /// The <see cref="ILlmCostClient"/> is <paramref name="client"/>, else resolved from the builder's services
    /// (<c>services.AddLlmCostClient(...)</c>).
    /// </summary>
    public static ChatClientBuilder UseLlmCost(this ChatClientBuilder builder, Action<LlmCostChatClientOptions>? configure = null, ILlmCostClient? client = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new LlmCostChatClientOptions();
        configure?.Invoke(options);
        options.Validate();
        return builder.Use((inner, services) => new LlmCostChatClient(
            inner,
            client ?? services.GetRequiredService<ILlmCostClient>(),
            options,
            services.GetService<TimeProvider>(),
            services.GetService<ILogger<LlmCostChatClient>>()));
    }
}
