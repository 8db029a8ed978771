using System.Text.RegularExpressions;

namespace LlmCost.Hosting;

/// <summary>
/// App-setting binding expressions in function.json ("queueName": "%LLMCOST_ALERTS_QUEUE%"), resolved the way the
/// Functions host resolves them: every <c>%NAME%</c> is replaced by the app setting NAME, looked up by its literal
/// name. Standalone mode resolves the same expressions from configuration, so a deployed function.json and the
/// standalone runner cannot disagree about which queue a function listens on.
/// </summary>
public sealed partial class AppSettingExpressions
{
    private readonly Func<string, string?> _lookup;
    private readonly IReadOnlyDictionary<string, string> _defaults;

    /// <param name="lookup">Reads a setting (configuration, i.e. the app settings the host also sees).</param>
    /// <param name="defaults">
    /// Values used when a setting is absent. Standalone mode passes the app's own values (its queue names); under the
    /// Functions host none are passed, because the host cannot see them: an absent setting is an absent setting.
    /// </param>
    public AppSettingExpressions(Func<string, string?> lookup, IReadOnlyDictionary<string, string>? defaults = null)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        _lookup = lookup;
        _defaults = defaults ?? new Dictionary<string, string>();
    }

    /// <summary>The expression that names an app setting: <c>%NAME%</c>.</summary>
    public static string For(string settingName)
    {
        if (!IsHostResolvableName(settingName))
        {
            throw new ArgumentException(
                $"'{settingName}' cannot be used in a binding expression: letters, digits and single underscores only (the host cannot resolve '__' or ':')",
                nameof(settingName));
        }

        return $"%{settingName}%";
    }

    /// <summary>The settings a value refers to (empty for a literal).</summary>
    public static IReadOnlyList<string> SettingNames(string? value) =>
        value is null ? [] : Expression().Matches(value).Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>
    /// A name the host's resolver finds: it looks app settings up in its configuration, where "A__B" has become "A:B",
    /// so a name with "__" (or ":") never resolves; app setting names themselves are letters, digits and underscores.
    /// </summary>
    public static bool IsHostResolvableName(string? name) =>
        name is not null && SettingName().IsMatch(name) && !name.Contains("__", StringComparison.Ordinal);

    /// <summary>Replaces every <c>%NAME%</c>; <paramref name="missing"/> lists the settings that have no value.</summary>
    public string Resolve(string template, out IReadOnlyList<string> missing)
    {
        ArgumentNullException.ThrowIfNull(template);
        var absent = new List<string>();
        var resolved = Expression().Replace(template, match =>
        {
            var name = match.Groups[1].Value;
            if (_lookup(name) is { Length: > 0 } value)
            {
                return value;
            }

            if (_defaults.TryGetValue(name, out var fallback))
            {
                return fallback;
            }

            absent.Add(name);
            return match.Value;
        });
        missing = absent;
        return resolved;
    }

    [GeneratedRegex("%([^%]+)%")]
    private static partial Regex Expression();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_]{0,127}$")]
    private static partial Regex SettingName();
}
