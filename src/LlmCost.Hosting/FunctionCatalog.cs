using System.Text.RegularExpressions;

namespace LlmCost.Hosting;

/// <summary>
/// Every Azure Functions function of the app, defined once: the HTTP functions come from the endpoint table (each
/// /api endpoint's <c>.WithName(...)</c>, route and methods), the timer and queue functions from the registered
/// <see cref="IBackgroundFunction"/>s. function.json files are generated from this list.
/// </summary>
public sealed partial class FunctionCatalog
{
    private readonly Lazy<(IReadOnlyList<IBackgroundFunction> List, Dictionary<string, IBackgroundFunction> ByName)> _background;
    private ICollection<EndpointDataSource>? _endpointSources;

    /// <summary>
    /// Background functions are constructed on first use, not at start-up: one whose dependencies are missing then
    /// fails its own invocations (and the generator), not the whole HTTP API.
    /// </summary>
    public FunctionCatalog(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _background = new(() => Index(services.GetServices<IBackgroundFunction>().ToList()));
    }

    public FunctionCatalog(IEnumerable<IBackgroundFunction> background)
    {
        var list = background.ToList();
        _background = new(() => Index(list));
    }

    public IReadOnlyList<IBackgroundFunction> BackgroundFunctions => _background.Value.List;

    /// <summary>The app's endpoint data sources; read lazily, so endpoints mapped after this call are included.</summary>
    internal void AttachEndpoints(ICollection<EndpointDataSource> sources) => _endpointSources = sources;

    public IBackgroundFunction? FindBackground(string name) => _background.Value.ByName.GetValueOrDefault(name);

    /// <summary>All definitions, HTTP first then background, each group by name; throws on a definition the host would reject.</summary>
    public IReadOnlyList<FunctionDefinition> GetDefinitions()
    {
        var http = _endpointSources is null ? [] : HttpDefinitions(_endpointSources.SelectMany(s => s.Endpoints));
        var all = http.OrderBy(d => d.Name, StringComparer.Ordinal)
            .Concat(BackgroundFunctions.Select(f => f.Definition).OrderBy(d => d.Name, StringComparer.Ordinal))
            .ToList();
        Validate(all);
        return all;
    }

    private static (IReadOnlyList<IBackgroundFunction>, Dictionary<string, IBackgroundFunction>) Index(List<IBackgroundFunction> functions)
    {
        var byName = new Dictionary<string, IBackgroundFunction>(StringComparer.OrdinalIgnoreCase);
        foreach (var function in functions)
        {
            if (!byName.TryAdd(function.Definition.Name, function))
            {
                throw new InvalidOperationException($"Two background functions are named '{function.Definition.Name}'.");
            }
        }

        return (functions, byName);
    }

    internal static List<FunctionDefinition> HttpDefinitions(IEnumerable<Endpoint> endpoints)
    {
        var definitions = new List<FunctionDefinition>();
        foreach (var endpoint in endpoints.OfType<RouteEndpoint>())
        {
            var route = FunctionsRoute.FromPattern(endpoint.RoutePattern, endpoint.Metadata.GetMetadata<HostRoutedEndpoint>() is not null);
            if (route is null)
            {
                continue;
            }

            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods
                .Select(m => m.ToLowerInvariant()).Distinct().Order(StringComparer.Ordinal).ToList() ?? [];
            var name = endpoint.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName;
            if (string.IsNullOrEmpty(name))
            {
                var shown = methods.Count == 0 ? "ANY" : string.Join(',', methods).ToUpperInvariant();
                throw new InvalidOperationException(
                    $"Endpoint {shown} {endpoint.RoutePattern.RawText} has no name: add .WithName(\"PascalCaseName\"); it becomes its Azure Functions function name.");
            }

            definitions.Add(new FunctionDefinition { Name = name, Trigger = TriggerKind.Http, Route = route, Methods = methods });
        }

        return definitions;
    }

    /// <summary>The rules the Functions host applies when it loads function.json files.</summary>
    internal static void Validate(IReadOnlyList<FunctionDefinition> definitions)
    {
        var errors = new List<string>();
        foreach (var duplicate in definitions.GroupBy(d => d.Name, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
        {
            errors.Add($"function name '{duplicate.Key}' is used {duplicate.Count()} times (names are case-insensitive)");
        }

        foreach (var d in definitions)
        {
            if (!FunctionName().IsMatch(d.Name))
            {
                errors.Add($"'{d.Name}' is not a valid function name (letters, digits, '_' or '-', starting with a letter, at most 128)");
            }

            switch (d.Trigger)
            {
                case TriggerKind.Http when string.IsNullOrEmpty(d.Route):
                    errors.Add($"{d.Name}: an empty route would default to the function name");
                    break;
                case TriggerKind.Http when d.Route!.StartsWith("admin", StringComparison.OrdinalIgnoreCase)
                                           || d.Route.StartsWith("runtime", StringComparison.OrdinalIgnoreCase):
                    // The host refuses it: "The specified route conflicts with one or more built in routes."
                    errors.Add($"{d.Name}: route '{d.Route}' starts with a prefix the Functions host reserves (admin, runtime)");
                    break;
                case TriggerKind.Timer when !IsValidSchedule(d.Schedule):
                    errors.Add($"{d.Name}: schedule '{d.Schedule}' is not a six-field NCRONTAB expression");
                    break;
                case TriggerKind.Timer when d.RunOnStartup:
                    // On Consumption and Flex Consumption the host starts on every scale-out and restart.
                    errors.Add($"{d.Name}: runOnStartup would run it on every scale-out and restart; use runAtStandaloneStart for a start run in standalone mode");
                    break;
                case TriggerKind.Queue when !IsValidQueueBinding(d.QueueName):
                    errors.Add($"{d.Name}: queue name '{d.QueueName}' is neither a valid storage queue name with room for '-poison' nor a whole %AppSetting% expression the host can resolve");
                    break;
            }
        }

        var routes = definitions.Where(d => d.Trigger == TriggerKind.Http)
            .SelectMany(d => (d.Methods.Count == 0 ? ["*"] : d.Methods).Select(m => (Method: m, d.Route, d.Name)))
            .GroupBy(x => (x.Method, x.Route))
            .Where(g => g.Count() > 1);
        foreach (var clash in routes)
        {
            errors.Add($"{clash.Key.Method.ToUpperInvariant()} {clash.Key.Route} is claimed by {string.Join(", ", clash.Select(c => c.Name))}");
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException("Invalid Azure Functions definitions:\n  " + string.Join("\n  ", errors));
        }
    }

    /// <summary>A literal queue name, or exactly one app-setting expression ("%LLMCOST_ALERTS_QUEUE%") the host can resolve.</summary>
    internal static bool IsValidQueueBinding(string? queueName)
    {
        if (queueName is null)
        {
            return false;
        }

        var settings = AppSettingExpressions.SettingNames(queueName);
        if (settings.Count > 0)
        {
            return settings.Count == 1 && queueName == $"%{settings[0]}%" && AppSettingExpressions.IsHostResolvableName(settings[0]);
        }

        return QueueName().IsMatch(queueName) && !queueName.Contains("--", StringComparison.Ordinal)
               && queueName.Length + AzureStorage.TriggerQueueConventions.PoisonSuffix.Length <= 63;
    }

    internal static bool IsValidSchedule(string? schedule)
    {
        if (schedule is null || schedule.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length != 6)
        {
            return false;
        }

        try
        {
            Cronos.CronExpression.Parse(schedule, Cronos.CronFormat.IncludeSeconds);
            return true;
        }
        catch (Cronos.CronFormatException)
        {
            return false;
        }
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]{0,127}$")]
    private static partial Regex FunctionName();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
    private static partial Regex QueueName();
}
