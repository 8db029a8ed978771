using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmCost.Hosting;

/// <summary>
/// <c>POST /{FunctionName}</c>: the Functions host's invocation of a timer or queue function (reference §2.1-2.6).
/// 200 with <c>{"Outputs":{},"Logs":[...],"ReturnValue":null}</c> (functions declare no output bindings, so
/// Outputs is empty and nothing can fall into the host's base64 trap); any failure is a non-2xx problem details, so
/// the host fails the invocation and retries / poisons the queue message.
/// </summary>
internal static class InvocationEndpoint
{
    public const string InvocationIdHeader = "X-Azure-Functions-InvocationId";

    public static async Task<IResult> HandleAsync(
        string functionName,
        HttpRequest request,
        FunctionCatalog catalog,
        BackgroundFunctionInvoker invoker,
        CancellationToken cancellationToken)
    {
        var function = catalog.FindBackground(functionName);
        if (function is null)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Unknown function",
                detail: $"No timer or queue function is named '{functionName}'.");
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "Invalid invocation payload",
                detail: $"The body is not JSON: {ex.Message}");
        }

        using (document)
        {
            var invocationId = request.Headers[InvocationIdHeader].FirstOrDefault() is { Length: > 0 } id ? id : Guid.NewGuid().ToString();
            if (!HostInvocationPayload.TryParse(function.Definition, document.RootElement, invocationId, out var invocation, out var error))
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid invocation payload", detail: error);
            }

            var outcome = await invoker.InvokeAsync(function, invocation!, cancellationToken).ConfigureAwait(false);
            if (!outcome.Succeeded)
            {
                return outcome.IsBadMessage
                    ? TypedResults.Problem(
                        statusCode: StatusCodes.Status422UnprocessableEntity,
                        title: "The message could not be processed",
                        detail: $"{functionName} rejected its input ({outcome.Error!.GetType().Name}); the host retries it and then moves it to the poison queue.")
                    : TypedResults.Problem(
                        statusCode: StatusCodes.Status500InternalServerError,
                        title: "The function failed",
                        detail: $"{functionName} failed ({outcome.Error!.GetType().Name}); the host retries queue messages and then moves them to the poison queue.");
            }

            var response = new JsonObject
            {
                ["Outputs"] = new JsonObject(),
                ["Logs"] = new JsonArray(JsonValue.Create($"{functionName} executed in {outcome.Duration.TotalMilliseconds:0} ms")),
                ["ReturnValue"] = null,
            };
            return TypedResults.Text(response.ToJsonString(), "application/json", Encoding.UTF8);
        }
    }
}
