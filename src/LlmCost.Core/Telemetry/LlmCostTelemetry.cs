using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LlmCost.Core.Telemetry;

/// <summary>
/// The service's one <see cref="Meter"/> and one <see cref="ActivitySource"/>, both named "LlmCost". Every module
/// adds its instruments here (instrument names start with <c>llmcost.</c> and the module: <c>llmcost.ingest.*</c>,
/// <c>llmcost.budgets.*</c>, <c>llmcost.alerts.*</c>, <c>llmcost.timer.*</c>), so the host subscribes once and an
/// exporter sees everything. System.Diagnostics types only: the domain stays free of any exporter package.
/// </summary>
public static class LlmCostTelemetry
{
    public const string Name = "LlmCost";

    public static Meter Meter { get; } = new(Name);

    public static ActivitySource ActivitySource { get; } = new(Name);
}
