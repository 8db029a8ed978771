using System.Text.Json;
using LlmCost.Core.Recording;
using Microsoft.AspNetCore.Http.Features;

namespace LlmCost.Functions.Apis.Recording;

/// <summary>
/// Reads a request body as JSON within a size limit: 413 above it, 400 (with the position) when malformed. The body
/// has already passed <see cref="JsonInputPolicy"/> (duplicates, surrogates, depth) in the host's middleware.
/// </summary>
internal static class JsonBody
{
    public static async Task<(JsonDocument? Document, IResult? Problem)> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return (null, TooLarge(maxBytes));
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
        {
            return (null, ApiProblems.Field("body", "is empty; send a JSON object"));
        }

        try
        {
            return (JsonDocument.Parse(buffer.ToArray(), JsonInputPolicy.DocumentOptions), null);
        }
        catch (JsonException ex)
        {
            return (null, ApiProblems.Validation(
                new Dictionary<string, string[]> { ["body"] = [$"body is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})"] },
                "Malformed JSON"));
        }
    }

    private static IResult TooLarge(long maxBytes) => TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Payload too large",
        detail: $"The request body exceeds {maxBytes} bytes; split the events into several requests.");
}
