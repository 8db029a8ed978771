using System.Text.Json;

namespace LlmCost.Hosting;

/// <summary>
/// Two probe functions, registered only with <c>LlmCost:Hosting:DiagnosticFunctions=true</c>, that let the contract
/// tests (and an operator after a deployment) check the trigger plumbing without touching business data.
/// </summary>
internal sealed class DiagnosticTimerFunction : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("DiagnosticTimer", "0 0 0 1 1 *");

    public Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default) => Task.CompletedTask;
}

/// <summary>
/// The message must be a JSON object (which proves the host's double encoding was undone):
/// <c>{"fail":true}</c> fails the invocation, <c>{"expect_dequeue_count":3}</c> fails unless the dequeue count is 3.
/// </summary>
internal sealed class DiagnosticQueueFunction : IBackgroundFunction
{
    public const string LogicalQueueName = "diagnostics";

    public FunctionDefinition Definition { get; } = FunctionDefinition.StorageQueueTriggered("DiagnosticQueue", LogicalQueueName);

    public Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        using var document = JsonDocument.Parse(invocation.QueueMessage ?? string.Empty);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("The diagnostic message must be a JSON object.");
        }

        if (document.RootElement.TryGetProperty("fail", out var fail) && fail.ValueKind == JsonValueKind.True)
        {
            throw new InvalidOperationException("The diagnostic message asked to fail.");
        }

        if (document.RootElement.TryGetProperty("expect_dequeue_count", out var expected) && expected.GetInt64() != invocation.DequeueCount)
        {
            throw new InvalidOperationException($"Expected dequeue count {expected.GetInt64()}, got {invocation.DequeueCount}.");
        }

        return Task.CompletedTask;
    }
}
