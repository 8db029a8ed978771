using Azure.Identity;
using Azure.Monitor.OpenTelemetry.AspNetCore;
using LlmCost.Core.Telemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace LlmCost.Functions.Hosting;

/// <summary>Settings under <c>LlmCost:Telemetry</c>.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "LlmCost:Telemetry";

    /// <summary>
    /// Serve Prometheus metrics at <c>GET /metrics</c> (admin key required). Default: on when standalone, off under
    /// the Functions host (which forwards only /api routes, so the endpoint could not be reached there anyway).
    /// </summary>
    public bool? Prometheus { get; set; }
}

/// <summary>
/// OpenTelemetry for the whole service: traces of the "LlmCost" ActivitySource plus incoming HTTP requests, metrics of
/// the "LlmCost" Meter plus ASP.NET Core's and Kestrel's own meters. Exporters follow the environment:
/// <list type="bullet">
/// <item><c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> set (Azure, as the template does): Azure Monitor, authenticated
/// with the app's managed identity when <c>APPLICATIONINSIGHTS_AUTHENTICATION_STRING</c> says
/// <c>Authorization=AAD</c> (local auth is off on the template's Application Insights);</item>
/// <item><c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set: OTLP (the standard OTEL_* variables apply);</item>
/// <item>standalone (or <c>LlmCost:Telemetry:Prometheus=true</c>): a Prometheus scrape endpoint at <c>/metrics</c>,
/// admin key required, because metrics name tenants' activity.</item>
/// </list>
/// </summary>
public static class TelemetrySetup
{
    public const string ServiceName = "llmcost";

    public static WebApplicationBuilder AddLlmCostTelemetry(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IConfiguration configuration = builder.Configuration;
        bool azureMonitor = !string.IsNullOrWhiteSpace(configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
        bool otlp = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        bool prometheus = PrometheusEnabled(configuration);

        OpenTelemetry.OpenTelemetryBuilder otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName, serviceInstanceId: Environment.MachineName))
            .WithTracing(tracing =>
            {
                tracing.AddSource(LlmCostTelemetry.Name);
                if (!azureMonitor)
                {
                    // The Azure Monitor distro brings its own ASP.NET Core instrumentation.
                    tracing.AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics"));
                }

                if (otlp)
                {
                    tracing.AddOtlpExporter();
                }
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(LlmCostTelemetry.Name, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel");
                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }

                if (prometheus)
                {
                    metrics.AddPrometheusExporter();
                }
            });

        if (azureMonitor)
        {
            string? clientId = ManagedIdentityClientId(configuration["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]);
            otel.UseAzureMonitor(o =>
            {
                if (clientId is not null)
                {
                    o.Credential = new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
                }
            });
        }

        return builder;
    }

    /// <summary>Maps <c>GET /metrics</c> (admin key) when Prometheus is on.</summary>
    public static WebApplication MapLlmCostTelemetry(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (PrometheusEnabled(app.Configuration))
        {
            app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(LlmCostAuth.AdminPolicy);
        }

        return app;
    }

    private static bool PrometheusEnabled(IConfiguration configuration) =>
        configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>()?.Prometheus
        ?? !CustomHandlerOptions.IsFunctionsHost(
            configuration.GetSection(CustomHandlerOptions.SectionName).GetValue(nameof(CustomHandlerOptions.Mode), HostingMode.Auto), configuration);

    /// <summary>"ClientId=…;Authorization=AAD" (the Functions host's format) → the client id, else null.</summary>
    internal static string? ManagedIdentityClientId(string? authentication)
    {
        if (string.IsNullOrWhiteSpace(authentication))
        {
            return null;
        }

        var parts = authentication.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1], StringComparer.OrdinalIgnoreCase);
        return parts.TryGetValue("Authorization", out string? kind) && string.Equals(kind, "AAD", StringComparison.OrdinalIgnoreCase)
            && parts.TryGetValue("ClientId", out string? id) && !string.IsNullOrWhiteSpace(id)
            ? id
            : null;
    }
}
