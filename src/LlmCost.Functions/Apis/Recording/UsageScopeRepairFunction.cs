using LlmCost.Storage.Recording;

namespace LlmCost.Functions.Apis.Recording;

/// <summary>
/// Timer (every 15 minutes): recomputes the derived team/tenant rows of partitions written in the last two hours
/// from their source buckets, closing the gap a crash between an event commit and its projection would leave.
/// </summary>
internal sealed class UsageScopeRepairFunction(UsageRepair repair, TimeProvider time) : IBackgroundFunction
{
    public FunctionDefinition Definition { get; } = FunctionDefinition.Timer("UsageScopeRepair", "0 */15 * * * *");

    public Task InvokeAsync(FunctionInvocation invocation, CancellationToken cancellationToken = default) =>
        repair.RepairSinceAsync(time.GetUtcNow().AddHours(-2), cancellationToken);
}
