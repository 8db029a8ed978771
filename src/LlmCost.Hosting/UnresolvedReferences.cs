using System.Text.RegularExpressions;

namespace LlmCost.Hosting;

/// <summary>
/// Settings whose value is still an App Service reference (<c>@Microsoft.KeyVault(...)</c>, or the App Configuration
/// equivalent) when the app starts. App Service passes the reference text through unchanged when it cannot resolve
/// it (the identity's role has not propagated yet, the secret does not exist, the vault is unreachable), and that
/// text is not a secret: the vault and secret names can be guessed from the public host name. Such a setting is
/// refused, i.e. the app runs as if it were not set: no admin key, no SMTP password. /api/health reports it (the
/// setting's name, never its value) until a restart after the reference resolves.
/// </summary>
/// <remarks>
/// Refusing the setting rather than refusing to start is deliberate for Flex Consumption: during a first
/// deployment references fail while role assignments propagate, and a custom handler that exits is restarted by
/// the host in a loop that shows only "host not running". A running app keeps serving ingest and reader keys,
/// says exactly which setting is wrong, and recovers on the restart that follows a reference refresh.
/// </remarks>
public sealed partial class UnresolvedReferences
{
    private UnresolvedReferences(IReadOnlyList<string> settings) => Settings = settings;

    /// <summary>The refused settings as app setting names (<c>LlmCost__AdminKey</c>), sorted.</summary>
    public IReadOnlyList<string> Settings { get; }

    /// <summary>True for a value that still holds an unresolved reference (any case, any whitespace).</summary>
    public static bool IsUnresolvedReference(string? value) => value is not null && Reference().IsMatch(value);

    /// <summary>
    /// Finds every unresolved reference in <paramref name="configuration"/> and masks it with a last, highest-priority
    /// source that unsets it, so nothing reading configuration afterwards (options, auth, SMTP) ever sees the text.
    /// </summary>
    public static UnresolvedReferences Refuse(IConfigurationBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        var keys = configuration.AsEnumerable()
            .Where(pair => IsUnresolvedReference(pair.Value))
            .Select(pair => pair.Key)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList();
        if (keys.Count > 0)
        {
            builder.AddInMemoryCollection(keys.Select(key => new KeyValuePair<string, string?>(key, null)));
        }

        return new UnresolvedReferences(keys
            .Select(key => key.Replace(ConfigurationPath.KeyDelimiter, "__", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList());
    }

    [GeneratedRegex(@"@\s*Microsoft\s*\.\s*(KeyVault|AppConfiguration)\s*\(", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Reference();
}

/// <summary>What /api/health must report about the configuration (names of settings, never values).</summary>
public sealed record ConfigurationProblem(string Setting, string Problem);

/// <summary>
/// The configuration problems that make the app unhealthy: refused references, and function bindings the Functions
/// host cannot resolve or that point somewhere the app does not write (<see cref="FunctionBindings"/>).
/// </summary>
public sealed class ConfigurationHealth(UnresolvedReferences references, FunctionBindings bindings)
{
    public IReadOnlyList<ConfigurationProblem> Problems =>
    [
        .. references.Settings.Select(s => new ConfigurationProblem(
            s, "holds an unresolved Key Vault reference; refused (treated as not set) until it resolves: refresh the app's Key Vault references and restart")),
        .. bindings.Problems,
    ];
}

/// <summary>
/// In front of GET /api/health: while the configuration has a problem, health is 503 naming the settings, whatever
/// storage says; otherwise the endpoint's own checks answer.
/// </summary>
public sealed class ConfigurationHealthFilter(ConfigurationHealth health) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(next);
        var problems = health.Problems;
        if (problems.Count == 0)
        {
            return await next(context).ConfigureAwait(false);
        }

        return TypedResults.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "Unhealthy",
            detail: string.Join("; ", problems.Select(p => $"{p.Setting} {p.Problem}")),
            extensions: new Dictionary<string, object?>
            {
                ["settings"] = problems.Select(p => p.Setting).Distinct(StringComparer.Ordinal).ToList(),
            });
    }
}

/// <summary>Logs the configuration problems once at start-up (names only), so they are in the log stream too.</summary>
internal sealed partial class ConfigurationHealthReport(ConfigurationHealth health, ILogger<ConfigurationHealthReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var problem in health.Problems)
        {
            LogProblem(logger, problem.Setting, problem.Problem);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 7050, Level = LogLevel.Error, Message = "Configuration: {Setting} {Problem}")]
    private static partial void LogProblem(ILogger logger, string setting, string problem);
}

public static class UnresolvedReferencesSetup
{
    /// <summary>Refuses unresolved references before anything reads configuration; call first.</summary>
    public static WebApplicationBuilder RefuseUnresolvedReferences(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var references = UnresolvedReferences.Refuse(builder.Configuration, builder.Configuration);
        builder.Services.AddSingleton(references);
        builder.Services.AddSingleton<ConfigurationHealth>();
        builder.Services.AddHostedService<ConfigurationHealthReport>();
        return builder;
    }
}
