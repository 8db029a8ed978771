using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmCost.Functions.Tests.Operations;

/// <summary>A REAL HTTP receiver: Kestrel on a random loopback port, recording every request it gets.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    /// <summary>Status codes to answer with, in order; 200 once exhausted.</summary>
    public ConcurrentQueue<int> PlannedStatuses { get; } = new();

    /// <summary>When set, every request gets this status (a receiver that is down).</summary>
    public int? AlwaysStatus { get; set; }

    /// <summary>When set, every request is answered 307 to this URL.</summary>
    public Uri? RedirectTo { get; set; }

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        WebhookReceiver? receiver = null;
        // "/hook" for plain webhooks; "/hook/..." for Slack/Teams-style URLs that carry their secret in the path.
        app.MapPost("/hook/{**rest}", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            receiver!.Requests.Enqueue(new ReceivedRequest(headers, buffer.ToArray()));
            var status = receiver.AlwaysStatus ?? (receiver.PlannedStatuses.TryDequeue(out var planned) ? planned : 200);
            if (receiver.RedirectTo is { } target)
            {
                context.Response.Headers.Location = target.ToString();
                return Results.StatusCode(307);
            }

            return Results.StatusCode(status);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver = new WebhookReceiver(app, new Uri(address.TrimEnd('/') + "/hook"));
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed record ReceivedRequest(IReadOnlyDictionary<string, string> Headers, byte[] Body);
