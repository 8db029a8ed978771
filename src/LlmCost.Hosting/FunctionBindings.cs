using LlmCost.Storage;
using Microsoft.Extensions.Options;

namespace LlmCost.Hosting;

/// <summary>A timer or queue function as it is actually triggered: its effective definition and resolved queue.</summary>
/// <param name="Definition">The compiled definition, or the one read from LlmCost:Hosting:FunctionsDirectory.</param>
/// <param name="QueueName">Queue functions: the queue name with every %AppSetting% expression resolved.</param>
public sealed record BoundFunction(IBackgroundFunction Function, FunctionDefinition Definition, string? QueueName);

/// <summary>
/// The timer and queue functions with their bindings resolved as the trigger sees them. Under the Functions host the
/// host reads the deployed function.json files and resolves their %AppSetting% expressions from app settings; the app
/// runs nothing itself and only checks that those settings exist and name the queues it writes to. In standalone mode
/// the runner uses the same definitions (compiled, or the function.json files of LlmCost:Hosting:FunctionsDirectory,
/// exactly as deployed) and resolves the same expressions from configuration, falling back to the app's own queue
/// names only for a setting that is absent. Anything that would make a trigger listen in the wrong place, or not at
/// all, is a <see cref="ConfigurationProblem"/> for /api/health.
/// </summary>
public sealed class FunctionBindings
{
    private readonly Lazy<(IReadOnlyList<BoundFunction> Functions, IReadOnlyList<ConfigurationProblem> Problems)> _bound;

    public FunctionBindings(
        FunctionCatalog catalog,
        IConfiguration configuration,
        IServiceProvider services,
        IOptions<CustomHandlerOptions> options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(options);
        _bound = new(() => Bind(catalog, configuration, services, options.Value));
    }

    public IReadOnlyList<BoundFunction> Functions => _bound.Value.Functions;

    public IReadOnlyList<ConfigurationProblem> Problems => _bound.Value.Problems;

    private static (IReadOnlyList<BoundFunction>, IReadOnlyList<ConfigurationProblem>) Bind(
        FunctionCatalog catalog, IConfiguration configuration, IServiceProvider services, CustomHandlerOptions options)
    {
        var problems = new List<ConfigurationProblem>();
        IReadOnlyList<IBackgroundFunction> functions;
        Dictionary<string, string> ownQueues;
        try
        {
            functions = catalog.BackgroundFunctions;
            var names = services.GetRequiredService<StorageNames>();
            ownQueues = services.GetServices<StorageResource>()
                .Where(r => r.Kind == StorageResourceKind.Queue)
                .Select(r => r.LogicalName)
                .Distinct(StringComparer.Ordinal)
                .ToDictionary(StorageNames.QueueSetting, names.Queue, StringComparer.Ordinal);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OptionsValidationException or ArgumentException)
        {
            // Not this check's concern: standalone mode and the endpoints report a broken registration or prefix themselves.
            return ([], []);
        }

        var hostMode = CustomHandlerOptions.IsFunctionsHost(options.Mode, configuration);
        // Under the host an absent setting stays absent: the host cannot see the app's defaults.
        var expressions = new AppSettingExpressions(name => configuration[name], hostMode ? null : ownQueues);
        var directory = hostMode ? null : options.FunctionsDirectory;
        var bound = new List<BoundFunction>();
        foreach (var function in functions)
        {
            var definition = function.Definition;
            if (!string.IsNullOrWhiteSpace(directory))
            {
                var path = Path.Combine(directory, definition.Name, FunctionManifest.FunctionJsonFileName);
                if (!File.Exists(path))
                {
                    problems.Add(new(CustomHandlerOptions.FunctionsDirectorySetting, $"has no {definition.Name}/{FunctionManifest.FunctionJsonFileName}: {definition.Name} does not run"));
                    continue;
                }

                try
                {
                    definition = FunctionManifest.ReadFunctionJson(definition.Name, File.ReadAllText(path)) with
                    {
                        RunAtStandaloneStart = function.Definition.RunAtStandaloneStart,
                    };
                }
                catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
                {
                    problems.Add(new(CustomHandlerOptions.FunctionsDirectorySetting, $"{ex.Message}: {definition.Name} does not run"));
                    continue;
                }

                if (definition.Trigger != function.Definition.Trigger)
                {
                    problems.Add(new(CustomHandlerOptions.FunctionsDirectorySetting,
                        $"declares {definition.Name} as a {definition.Trigger} trigger, the app implements a {function.Definition.Trigger} trigger: it does not run"));
                    continue;
                }
            }

            if (definition.Trigger == TriggerKind.Timer && !FunctionCatalog.IsValidSchedule(definition.Schedule))
            {
                problems.Add(new(CustomHandlerOptions.FunctionsDirectorySetting, $"gives {definition.Name} the schedule '{definition.Schedule}', not a six-field NCRONTAB expression"));
                continue;
            }

            string? queueName = null;
            if (definition.Trigger == TriggerKind.Queue)
            {
                queueName = expressions.Resolve(definition.QueueName!, out var missing);
                if (missing.Count > 0)
                {
                    problems.AddRange(missing.Select(m => new ConfigurationProblem(
                        m, $"is not set: {definition.Name}'s queue trigger names its queue %{m}% (set it to the queue's name, e.g. {ownQueues.GetValueOrDefault(m, "<prefix>-<queue>")})")));
                    continue;
                }

                foreach (var setting in AppSettingExpressions.SettingNames(definition.QueueName))
                {
                    if (ownQueues.TryGetValue(setting, out var expected) && configuration[setting] is { Length: > 0 } actual && actual != expected)
                    {
                        problems.Add(new(setting, $"is '{actual}', but the app writes that queue as '{expected}' (LlmCost__Storage__Prefix): {definition.Name} would never see a message"));
                    }
                }
            }

            bound.Add(new BoundFunction(function, definition, queueName));
        }

        return (bound, problems);
    }
}
