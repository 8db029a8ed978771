using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace LlmCost.Core.Alerts;

/// <summary>
/// The bytes each channel receives. Deterministic: the same alert gives the same body (field order fixed, money and
/// thresholds as decimal strings, times in ISO 8601 UTC).
/// </summary>
public static class AlertPayloads
{
    public const string TimestampHeader = "X-LlmCost-Timestamp";
    public const string SignatureHeader = "X-LlmCost-Signature";
    public const string AlertIdHeader = "X-LlmCost-Alert-Id";

    /// <summary>Generic webhook JSON: alert_id, kind, tenant_id, scope, scope_id, budget_id?, threshold_percent?, message?, created_at, details.</summary>
    public static byte[] WebhookBody(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return JsonBytes.Object(json =>
        {
            json.WriteString("alert_id", alert.AlertId);
            json.WriteString("kind", alert.Kind);
            json.WriteString("tenant_id", alert.TenantId);
            json.WriteString("scope", alert.Scope);
            json.WriteString("scope_id", alert.ScopeId);
            WriteOptional(json, "budget_id", alert.BudgetId);
            WriteOptional(json, "threshold_percent", alert.ThresholdPercent?.ToString(CultureInfo.InvariantCulture));
            WriteOptional(json, "message", alert.Message);
            json.WriteString("created_at", FormatTime(alert.CreatedAt));
            json.WriteStartObject("details");
            foreach (var (key, value) in alert.Details.OrderBy(d => d.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
        });
    }

    /// <summary>"sha256=" + hex HMAC-SHA256 of "{timestamp}.{body}" keyed with the subscription's secret.</summary>
    public static string Sign(string secret, string timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        ArgumentException.ThrowIfNullOrEmpty(timestamp);
        var prefix = Encoding.UTF8.GetBytes(timestamp + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
    }

    /// <summary>
    /// Receiver-side check (also what our tests use): signature matches AND the timestamp is within
    /// <paramref name="tolerance"/> of now (replay protection). Constant-time comparison.
    /// </summary>
    public static bool Verify(string secret, string timestamp, ReadOnlySpan<byte> body, string signature, DateTimeOffset now, TimeSpan tolerance)
    {
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || Math.Abs((now - DateTimeOffset.FromUnixTimeSeconds(seconds)).TotalSeconds) > tolerance.TotalSeconds)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Sign(secret, timestamp, body));
        var actual = Encoding.ASCII.GetBytes(signature ?? string.Empty);
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    /// <summary>The timestamp header value: Unix seconds.</summary>
    public static string Timestamp(DateTimeOffset now) => now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    /// <summary>Slack incoming-webhook body (text fallback + one section block).</summary>
    public static byte[] SlackBody(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var text = Headline(alert);
        return JsonBytes.Object(json =>
        {
            json.WriteString("text", text);
            json.WriteStartArray("blocks");
            json.WriteStartObject();
            json.WriteString("type", "section");
            json.WriteStartObject("text");
            json.WriteString("type", "mrkdwn");
            json.WriteString("text", $"*{Title(alert)}*\n{alert.Message ?? text}\n`{alert.AlertId}`");
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndArray();
        });
    }

    /// <summary>Teams (Workflows / incoming webhook) body: a message with one Adaptive Card attachment.</summary>
    public static byte[] TeamsBody(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return JsonBytes.Object(json =>
        {
            json.WriteString("type", "message");
            json.WriteStartArray("attachments");
            json.WriteStartObject();
            json.WriteString("contentType", "application/vnd.microsoft.card.adaptive");
            json.WriteStartObject("content");
            json.WriteString("$schema", "http://adaptivecards.io/schemas/adaptive-card.json");
            json.WriteString("type", "AdaptiveCard");
            json.WriteString("version", "1.4");
            json.WriteStartArray("body");
            json.WriteStartObject();
            json.WriteString("type", "TextBlock");
            json.WriteString("text", Title(alert));
            json.WriteString("weight", "Bolder");
            json.WriteString("size", "Medium");
            json.WriteEndObject();
            json.WriteStartObject();
            json.WriteString("type", "TextBlock");
            json.WriteString("text", alert.Message ?? Headline(alert));
            json.WriteBoolean("wrap", true);
            json.WriteEndObject();
            json.WriteStartObject();
            json.WriteString("type", "FactSet");
            json.WriteStartArray("facts");
            foreach (var (title, value) in Facts(alert))
            {
                json.WriteStartObject();
                json.WriteString("title", title);
                json.WriteString("value", value);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndArray();
        });
    }

    /// <summary>Plain-text email: subject and body (the SMTP adapter wraps them in a MIME message).</summary>
    public static (string Subject, string Body) Email(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var body = new StringBuilder();
        body.AppendLine(alert.Message ?? Headline(alert)).AppendLine();
        foreach (var (title, value) in Facts(alert))
        {
            body.Append(title).Append(": ").AppendLine(value);
        }

        return ($"[LlmCost] {Title(alert)}", body.ToString());
    }

    private static IEnumerable<(string Title, string Value)> Facts(Alert alert)
    {
        yield return ("alert_id", alert.AlertId);
        yield return ("kind", alert.Kind);
        yield return ("tenant_id", alert.TenantId);
        yield return ("scope", $"{alert.Scope} {alert.ScopeId}");
        if (alert.BudgetId is not null)
        {
            yield return ("budget_id", alert.BudgetId);
        }

        if (alert.ThresholdPercent is { } threshold)
        {
            yield return ("threshold_percent", threshold.ToString(CultureInfo.InvariantCulture));
        }

        yield return ("created_at", FormatTime(alert.CreatedAt));
        foreach (var (key, value) in alert.Details.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            yield return (key, value);
        }
    }

    private static string Title(Alert alert) => $"{alert.Kind.Replace('_', ' ')}: {alert.Scope} {alert.ScopeId} ({alert.TenantId})";

    private static string Headline(Alert alert) => alert.ThresholdPercent is { } t
        ? $"{Title(alert)} crossed {t.ToString(CultureInfo.InvariantCulture)} %"
        : Title(alert);

    private static string FormatTime(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }
}
