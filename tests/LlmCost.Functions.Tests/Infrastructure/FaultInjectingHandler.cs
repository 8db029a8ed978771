namespace LlmCost.Functions.Tests.Infrastructure;

/// <summary>
/// Breaks requests the way networks do: some never reach the server (refused), some reach it and the response
/// is lost after the server committed (the dangerous case for exactly-once), and some are aborted mid-flight.
/// Seeded, so a failure can be replayed.
/// </summary>
public sealed class FaultInjectingHandler(int seed, double refuse, double loseResponse, double abort) : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly Random _random = new(seed);
    private readonly object _gate = new();

    public int Refused { get; private set; }
    public int LostResponses { get; private set; }
    public int Aborted { get; private set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        double roll;
        int abortAfterMs;
        lock (_gate)
        {
            roll = _random.NextDouble();
            abortAfterMs = _random.Next(0, 15);
        }

        if (roll < refuse)
        {
            Refused++;
            throw new HttpRequestException("injected: connection refused");
        }

        if (roll < refuse + abort)
        {
            Aborted++;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(abortAfterMs);
            try
            {
                HttpResponseMessage completed = await base.SendAsync(request, cts.Token);
                completed.Dispose();
            }
            catch (OperationCanceledException)
            {
            }

            throw new HttpRequestException("injected: connection aborted mid-flight");
        }

        HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
        if (roll < refuse + abort + loseResponse)
        {
            // The server has answered (and committed); the client never learns it.
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            response.Dispose();
            LostResponses++;
            throw new HttpRequestException("injected: response lost");
        }

        return response;
    }
}
