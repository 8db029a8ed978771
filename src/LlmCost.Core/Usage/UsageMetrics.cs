using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace LlmCost.Core.Usage;

/// <summary>
/// Instruments of usage normalisation on the service's Meter "LlmCost": provider fields this version does not
/// know (ignored, never rejected) are counted so a new priced field shows up on a dashboard before it shows up as a
/// wrong bill.
/// </summary>
public static class UsageMetrics
{
    public const string MeterName = "LlmCost";
    public const string UnknownFieldsName = "llmcost.usage.unknown_fields";

    /// <summary>Field names come from request bodies: at most this many distinct (flavour, field) series, then "(other)".</summary>
    private const int MaxSeries = 256;
    private const int MaxFieldLength = 80;

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Counter<long> s_unknownFields = s_meter.CreateCounter<long>(
        UnknownFieldsName, unit: "{field}", description: "Provider usage fields ignored because this version does not know them, by flavour and field");

    private static readonly ConcurrentDictionary<(string, string), bool> s_series = new();

    public static void RecordIgnored(string flavor, IReadOnlyList<string> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        foreach (string field in fields)
        {
            string name = field.Length > MaxFieldLength ? field[..MaxFieldLength] : field;
            if (!s_series.ContainsKey((flavor, name)))
            {
                name = s_series.Count < MaxSeries && s_series.TryAdd((flavor, name), true) ? name : "(other)";
            }

            s_unknownFields.Add(1, new KeyValuePair<string, object?>("flavor", flavor), new KeyValuePair<string, object?>("field", name));
        }
    }
}
