namespace LlmCost.Core;

/// <summary>One problem with a request, naming the JSON field (e.g. <c>events[3].usage.input_tokens</c>).</summary>
public sealed record FieldError(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";

    /// <summary>Errors by field as problem details carry them ("errors": {"field": ["field message", ...]}).</summary>
    public static IReadOnlyDictionary<string, string[]> ToDictionary(IEnumerable<FieldError> errors) =>
        errors.GroupBy(e => e.Field, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(e => $"{e.Field} {e.Message}").ToArray(), StringComparer.Ordinal);
}
