using System.Net.Mail;

namespace LlmCost.Core.Alerts;

public static class AlertChannels
{
    public const string Webhook = "webhook";
    public const string Slack = "slack";
    public const string Teams = "teams";
    public const string Email = "email";

    public static IReadOnlyList<string> All { get; } = [Webhook, Slack, Teams, Email];
}

/// <summary>Where a tenant's alerts go. <see cref="Kinds"/> empty = every kind.</summary>
public sealed record AlertSubscription
{
    public required string SubscriptionId { get; init; }
    public required string TenantId { get; init; }
    public required string Channel { get; init; }
    public string? Url { get; init; }
    public string? Email { get; init; }

    /// <summary>HMAC key for webhook signatures. Never returned by the API, never logged.</summary>
    public string? Secret { get; init; }

    public IReadOnlyList<string> Kinds { get; init; } = [];
    public required DateTimeOffset CreatedAt { get; init; }

    public bool Wants(Alert alert) =>
        string.Equals(alert.TenantId, TenantId, StringComparison.Ordinal)
        && (Kinds.Count == 0 || Kinds.Contains(alert.Kind, StringComparer.Ordinal));
}

/// <summary>The fields of a subscription request, as parsed from the wire, before validation.</summary>
public sealed record SubscriptionRequest(string? TenantId, string? Channel, string? Url, string? Email, string? Secret, IReadOnlyList<string>? Kinds);

public static class SubscriptionValidator
{
    private static readonly HashSet<string> KnownKinds =
    [
        AlertKinds.BudgetThreshold, AlertKinds.BudgetProjectedOverrun, AlertKinds.CircuitBreaker, AlertKinds.CostAnomaly,
        AlertKinds.TokenSpike, AlertKinds.ErrorRateSpike, AlertKinds.UnpricedModel, AlertKinds.ReportedCostMismatch,
        AlertKinds.AdviceDigest,
    ];

    public static IReadOnlyCollection<string> AllKinds => KnownKinds;

    /// <summary>Field (snake_case, as on the wire) → problems. Empty when valid.</summary>
    public static Dictionary<string, string[]> Validate(SubscriptionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.TenantId))
        {
            errors["tenant_id"] = ["tenant_id is required"];
        }

        if (request.Channel is null || !AlertChannels.All.Contains(request.Channel))
        {
            errors["channel"] = [$"channel must be one of {string.Join(", ", AlertChannels.All)}"];
        }
        else if (request.Channel == AlertChannels.Email)
        {
            if (string.IsNullOrWhiteSpace(request.Email) || !MailAddress.TryCreate(request.Email, out var parsed) || parsed.Address != request.Email.Trim())
            {
                errors["email"] = ["a valid email address is required for the email channel"];
            }
        }
        else if (!Uri.TryCreate(request.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            errors["url"] = ["an absolute http(s) url is required for this channel"];
        }

        if (request.Secret is { Length: > 0 and < 16 })
        {
            errors["secret"] = ["secret must be at least 16 characters"];
        }

        var unknown = (request.Kinds ?? []).Where(k => !KnownKinds.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            errors["kinds"] = [$"unknown kind(s): {string.Join(", ", unknown)}"];
        }

        return errors;
    }
}
