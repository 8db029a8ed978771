using LlmCost.Core;

namespace LlmCost.Functions.Hosting;

/// <summary>
/// The one way an endpoint answers a request it will not serve: RFC 9457 problem+json. A bad input is a 400 whose
/// "errors" name every offending field (each message starts with the field's name, so it reads on its own) and whose
/// detail repeats the first few; a missing resource is a 404 naming what and which.
/// </summary>
public static class ApiProblems
{
    /// <summary>How many messages the detail repeats: a batch can carry thousands, the errors object has them all.</summary>
    private const int DetailMessages = 5;

    public static IResult Validation(IReadOnlyDictionary<string, string[]> errors, string title = "Invalid request")
    {
        ArgumentNullException.ThrowIfNull(errors);
        return TypedResults.ValidationProblem(
            errors.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal),
            detail: string.Join("; ", errors.Values.SelectMany(v => v).Take(DetailMessages)),
            title: title);
    }

    public static IResult Validation(IEnumerable<FieldError> errors, string title = "Invalid request") =>
        Validation(FieldError.ToDictionary(errors), title);

    /// <summary>A 400 naming one field: "<paramref name="field"/> <paramref name="message"/>".</summary>
    public static IResult Field(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [$"{field} {message}"] });

    public static IResult NotFound(string what, string id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"{what} '{id}' does not exist");
}
