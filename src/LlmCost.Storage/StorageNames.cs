using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace LlmCost.Storage;

/// <summary>Storage settings under <c>LlmCost:Storage</c>.</summary>
public sealed class LlmCostStorageOptions
{
    public const string Section = "LlmCost:Storage";

    /// <summary>
    /// Prefix of every table, queue and container name (lower-case letters and digits, starting with a letter,
    /// 1–20 characters). Tests use a random prefix to isolate themselves on a shared Azurite.
    /// </summary>
    public string Prefix { get; set; } = "llmcost";

    /// <summary>Create the registered tables, queues and containers at start-up (idempotent).</summary>
    public bool CreateResources { get; set; } = true;

    /// <summary>
    /// How long one storage read may take before it is abandoned and retried. The SDK default (100 s) would let a
    /// frozen account hold every API call for minutes; a healthy account answers reads in milliseconds.
    /// </summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one storage write may take. Longer than reads, and a write that timed out is NOT retried by the storage
    /// client: it most likely reached storage and may have been applied, and only the caller knows whether repeating it
    /// is safe (an event's 409 is "already recorded"; a repeated delete would report "not found"). It becomes a 503 and
    /// the caller retries.
    /// </summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries of a failed storage request (transport errors, 408/429/500/502/503/504) before giving up (writes: see <see cref="WriteTimeout"/>).</summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>First retry delay (exponential, with jitter, capped at <see cref="MaxRetryDelay"/>).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// After storage calls keep failing (unreachable, timing out, 503), calls fail at once for this long (503 with
    /// Retry-After to the client) instead of each waiting out its own timeouts; then one call probes again.
    /// </summary>
    public TimeSpan OutageBreakDuration { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// The one place that turns a logical name ("usage", "alerts") into a physical table / queue / container name.
/// Table names must match <c>^[A-Za-z][A-Za-z0-9]{2,62}$</c>; queue and container names are lower-case
/// letters, digits and single hyphens, 3–63 characters.
/// </summary>
public sealed partial class StorageNames
{
    public StorageNames(IOptions<LlmCostStorageOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Prefix = options.Value.Prefix;
        if (!PrefixPattern().IsMatch(Prefix))
        {
            throw new OptionsValidationException(LlmCostStorageOptions.Section, typeof(LlmCostStorageOptions),
                [$"{LlmCostStorageOptions.Section}:Prefix '{Prefix}' must be 1-20 lower-case letters or digits, starting with a letter"]);
        }
    }

    public string Prefix { get; }

    /// <summary><c>{prefix}{logical}</c>, e.g. "llmcostusage".</summary>
    public string Table(string logicalName)
    {
        string name = Prefix + logicalName;
        if (!TablePattern().IsMatch(name))
        {
            throw new ArgumentException($"'{name}' is not a valid table name", nameof(logicalName));
        }

        return name;
    }

    /// <summary><c>{prefix}-{logical}</c>, e.g. "llmcost-alerts" (and "llmcost-alerts-poison").</summary>
    public string Queue(string logicalName) => Dashed(logicalName, nameof(logicalName));

    /// <summary>
    /// The app setting that carries the physical name of a queue (<c>alerts</c> → <c>LLMCOST_ALERTS_QUEUE</c>) for the
    /// function.json queue triggers, which name it as <c>%LLMCOST_ALERTS_QUEUE%</c>. The Functions host (and the scale
    /// controller) look app settings up by their literal name and cannot resolve names holding <c>__</c> or <c>:</c>,
    /// so it is flat. Deployments set it to <see cref="Queue"/>'s value; the app reports a mismatch as unhealthy.
    /// </summary>
    public static string QueueSetting(string logicalName)
    {
        ArgumentException.ThrowIfNullOrEmpty(logicalName);
        return $"LLMCOST_{logicalName.ToUpperInvariant().Replace('-', '_')}_QUEUE";
    }

    /// <summary><c>{prefix}-{logical}</c>, e.g. "llmcost-reports".</summary>
    public string Container(string logicalName) => Dashed(logicalName, nameof(logicalName));

    private string Dashed(string logicalName, string parameterName)
    {
        string name = $"{Prefix}-{logicalName}";
        if (!DashedPattern().IsMatch(name))
        {
            throw new ArgumentException($"'{name}' is not a valid queue/container name", parameterName);
        }

        return name;
    }

    [GeneratedRegex("^[a-z][a-z0-9]{0,19}$")]
    private static partial Regex PrefixPattern();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    private static partial Regex TablePattern();

    [GeneratedRegex("^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex DashedPattern();
}
