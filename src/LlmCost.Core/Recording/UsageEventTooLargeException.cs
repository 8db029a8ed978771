namespace LlmCost.Core.Recording;

/// <summary>
/// Thrown by an <see cref="IUsageEventStore"/> BEFORE it writes anything when an event could never be stored whole
/// (a storage row limit; only reachable when the submission limits allow more than a row holds). The caller answers
/// it as a 4xx naming the field; the other events of the call are not recorded either, so a retry without the
/// offending event is safe.
/// </summary>
/// <param name="index">The event's position in the list given to the store.</param>
/// <param name="field">The event's wire field that makes it too large (e.g. <c>tags</c>), or <c>event</c>.</param>
public sealed class UsageEventTooLargeException(int index, string field, string reason)
    : Exception($"event {index}: {field} {reason}")
{
    public int Index { get; } = index;
    public string Field { get; } = field;
    public string Reason { get; } = reason;
}
