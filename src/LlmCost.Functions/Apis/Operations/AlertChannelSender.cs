using System.Net;
using System.Net.Http.Headers;
using LlmCost.Core.Alerts;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;
using Polly;
using Polly.Retry;

namespace LlmCost.Functions.Apis.Operations;

/// <summary>"LlmCost:Alerts" settings of the delivery channels.</summary>
public sealed class AlertDeliveryOptions
{
    public const string Section = "LlmCost:Alerts";

    public string? SmtpHost { get; set; }
    public int SmtpPort { get; set; } = 25;

    /// <summary>none | starttls | ssl | auto.</summary>
    public string SmtpSecurity { get; set; } = "auto";

    public string? SmtpUser { get; set; }
    public string? SmtpPassword { get; set; }
    public string From { get; set; } = "llmcost-alerts@localhost";

    /// <summary>In-process retries per delivery (before the queue's own redelivery).</summary>
    public int RetryAttempts { get; set; } = 2;

    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan HttpTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Allow webhook targets on loopback, private and link-local addresses (off: the service must not become a way
    /// into its own network; tests and single-machine setups with a local receiver turn it on).
    /// </summary>
    public bool AllowPrivateNetworkTargets { get; set; }

    /// <summary>False when a setting is out of range: the host does not start rather than fail each delivery.</summary>
    public bool IsValid() =>
        SmtpPort is > 0 and <= 65_535
        && SmtpSecurity.ToLowerInvariant() is "none" or "starttls" or "ssl" or "auto"
        && RetryAttempts is >= 0 and <= 10
        && RetryBaseDelay >= TimeSpan.Zero
        && HttpTimeout > TimeSpan.Zero
        && !string.IsNullOrWhiteSpace(From);
}

/// <summary>
/// Sends one alert to one subscription: webhook (signed JSON), Slack, Teams (their webhook bodies) over HTTP, e-mail
/// over SMTP (MailKit). Transient failures are retried in-process with exponential backoff and jitter (Polly); what
/// still fails is returned (not thrown) so the fan-out can record it and let the queue redeliver.
/// </summary>
public sealed partial class AlertChannelSender : IAlertChannelSender
{
    public const string HttpClientName = "llmcost-alerts";

    /// <summary>
    /// The alert HTTP client: connections guarded by <see cref="WebhookTargets"/>, and no HTTP client logging at all,
    /// because Slack and Teams webhook URLs are bearer secrets and the default logging writes every request URI.
    /// </summary>
    public static IServiceCollection AddAlertHttpClient(IServiceCollection services)
    {
        services.AddHttpClient(HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => WebhookTargets.CreateHandler(sp.GetRequiredService<IOptions<AlertDeliveryOptions>>().Value.AllowPrivateNetworkTargets))
            .RemoveAllLoggers();
        return services;
    }

    private readonly IHttpClientFactory _httpClients;
    private readonly AlertDeliveryOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<AlertChannelSender> _logger;
    private readonly ResiliencePipeline<ChannelResult> _retry;

    public AlertChannelSender(IHttpClientFactory httpClients, IOptions<AlertDeliveryOptions> options, TimeProvider timeProvider, ILogger<AlertChannelSender> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _httpClients = httpClients;
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = logger;
        _retry = new ResiliencePipelineBuilder<ChannelResult>
        {
            // Backoff waits are real waits (operational, not business time), so a fake clock in tests never stalls them.
            TimeProvider = TimeProvider.System,
        }
            .AddRetry(new RetryStrategyOptions<ChannelResult>
            {
                MaxRetryAttempts = Math.Max(1, _options.RetryAttempts),
                Delay = _options.RetryBaseDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = new PredicateBuilder<ChannelResult>()
                    .Handle<HttpRequestException>()
                    .Handle<IOException>()
                    .Handle<TimeoutException>()
                    .Handle<SmtpProtocolException>()
                    .Handle<System.Net.Sockets.SocketException>()
                    .HandleResult(r => !r.Delivered && r.Retryable),
            })
            .Build();
    }

    public async Task<ChannelResult> SendAsync(AlertSubscription subscription, Alert alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(alert);
        try
        {
            var result = await _retry.ExecuteAsync(
                async ct => subscription.Channel == AlertChannels.Email
                    ? await SendEmailAsync(subscription, alert, ct).ConfigureAwait(false)
                    : await PostAsync(subscription, alert, ct).ConfigureAwait(false),
                cancellationToken).ConfigureAwait(false);
            if (!result.Delivered)
            {
                LogFailed(_logger, alert.AlertId, subscription.SubscriptionId, subscription.Channel, result.Error ?? "unknown");
            }

            return result;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TimeoutException or SmtpProtocolException or System.Net.Sockets.SocketException
            or SmtpCommandException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogFailed(_logger, alert.AlertId, subscription.SubscriptionId, subscription.Channel, ex.GetType().Name);
            return new ChannelResult(false, ex.GetType().Name + ": " + ex.Message, Retryable: true);
        }
    }

    private async Task<ChannelResult> PostAsync(AlertSubscription subscription, Alert alert, CancellationToken cancellationToken)
    {
        var body = subscription.Channel switch
        {
            AlertChannels.Slack => AlertPayloads.SlackBody(alert),
            AlertChannels.Teams => AlertPayloads.TeamsBody(alert),
            _ => AlertPayloads.WebhookBody(alert),
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, subscription.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        if (subscription.Channel == AlertChannels.Webhook)
        {
            // Signed per attempt: a retry carries a fresh timestamp, so the receiver's replay window stays short.
            var timestamp = AlertPayloads.Timestamp(_timeProvider.GetUtcNow());
            request.Headers.Add(AlertPayloads.TimestampHeader, timestamp);
            request.Headers.Add(AlertPayloads.AlertIdHeader, alert.AlertId);
            if (!string.IsNullOrEmpty(subscription.Secret))
            {
                request.Headers.Add(AlertPayloads.SignatureHeader, AlertPayloads.Sign(subscription.Secret, timestamp, body));
            }
        }

        var client = _httpClients.CreateClient(HttpClientName);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.HttpTimeout);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return ChannelResult.Ok;
        }

        var status = (int)response.StatusCode;
        return new ChannelResult(false, $"HTTP {status}", Retryable: status >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests || status == 408);
    }

    private async Task<ChannelResult> SendEmailAsync(AlertSubscription subscription, Alert alert, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(_options.SmtpHost))
        {
            return new ChannelResult(false, "SMTP is not configured (LlmCost:Alerts:SmtpHost)");
        }

        var (subject, text) = AlertPayloads.Email(alert);
        using var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(_options.From));
        message.To.Add(MailboxAddress.Parse(subscription.Email!));
        message.Subject = subject;
        // Stable Message-Id per (alert, subscription): mail systems de-duplicate a resend after an unclear failure.
        message.MessageId = $"{alert.AlertId}.{subscription.SubscriptionId}@llmcost";
        message.Headers.Add(AlertPayloads.AlertIdHeader, alert.AlertId);
        message.Date = _timeProvider.GetUtcNow();
        message.Body = new TextPart("plain") { Text = text };

        using var smtp = new SmtpClient { Timeout = (int)_options.HttpTimeout.TotalMilliseconds };
        var security = _options.SmtpSecurity.ToLowerInvariant() switch
        {
            "none" => SecureSocketOptions.None,
            "starttls" => SecureSocketOptions.StartTls,
            "ssl" => SecureSocketOptions.SslOnConnect,
            _ => SecureSocketOptions.Auto,
        };
        await smtp.ConnectAsync(_options.SmtpHost, _options.SmtpPort, security, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(_options.SmtpUser))
        {
            await smtp.AuthenticateAsync(_options.SmtpUser, _options.SmtpPassword ?? string.Empty, cancellationToken).ConfigureAwait(false);
        }

        await smtp.SendAsync(message, cancellationToken).ConfigureAwait(false);
        await smtp.DisconnectAsync(quit: true, cancellationToken).ConfigureAwait(false);
        return ChannelResult.Ok;
    }

    [LoggerMessage(EventId = 6100, Level = LogLevel.Warning, Message = "Alert {AlertId} to subscription {SubscriptionId} ({Channel}) failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string alertId, string subscriptionId, string channel, string reason);
}
