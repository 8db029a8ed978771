namespace LlmCost.Core;

/// <summary>
/// The one error shape of every use case's input check: the value, or every problem at once keyed by the wire field
/// it names (each message reads on its own, e.g. "period must be \"day\" or \"month\""). The host turns the errors
/// into one problem+json (400) naming the fields.
/// </summary>
public sealed record Validated<T>(T? Value, IReadOnlyDictionary<string, string[]> Errors)
    where T : class
{
    public bool IsValid => Errors.Count == 0 && Value is not null;

    public static Validated<T> Ok(T value) => new(value, new Dictionary<string, string[]>());

    public static Validated<T> Fail(IReadOnlyDictionary<string, string[]> errors) => new(null, errors);

    public static Validated<T> Fail(string field, string message) => new(null, new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>From a list of field errors (several for one field are kept, in order).</summary>
    public static Validated<T> Fail(IEnumerable<FieldError> errors) => new(null, FieldError.ToDictionary(errors));
}
