using LlmCost.Core;
using LlmCost.Core.Recording;
using Microsoft.AspNetCore.Http.Features;

namespace LlmCost.Functions.Hosting;

/// <summary>
/// The input rules every endpoint gets without asking, so a new endpoint cannot forget them. Runs after
/// authentication and authorisation (an anonymous caller never makes the service buffer a body) and before the
/// endpoint:
/// <list type="bullet">
/// <item>ids in the route (<c>{userId}</c>, <c>{ruleId}</c>, ...) and in the query (<c>tenant_id</c>, <c>user_id</c>,
/// ...) follow <see cref="RecordKeys"/> (no dot-only ids, no key-forbidden characters): 400 naming the parameter;</item>
/// <item>a body is read once (at most <c>LlmCost:Usage:MaxBodyBytes</c>, else 413), checked by
/// <see cref="JsonInputPolicy"/> (400 naming the member: duplicate key, lone surrogate, malformed, too deep) and
/// handed on as a buffer.</item>
/// </list>
/// </summary>
internal sealed class InputPolicyMiddleware(RequestDelegate next, IConfiguration configuration)
{
    private readonly long _maxBytes = configuration.GetValue("LlmCost:Usage:MaxBodyBytes", 1024L * 1024);

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint() is null)
        {
            await next(context);
            return;
        }

        if (IdProblem(context) is { } idProblem)
        {
            await ApiProblems.Field(idProblem.Field, idProblem.Message).ExecuteAsync(context);
            return;
        }

        HttpRequest request = context.Request;
        // An endpoint that takes whole files (a price catalog) declares its own limit.
        long maxBytes = context.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata>()?.MaxRequestBodySize ?? _maxBytes;
        if (!HasBody(request) || context.GetEndpoint()?.Metadata.GetMetadata<OwnBodyPolicy>() is not null)
        {
            await next(context);
            return;
        }

        if (request.ContentLength > maxBytes)
        {
            await TooLarge(context, maxBytes);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        var buffer = new MemoryStream();
        context.Response.RegisterForDispose(buffer);
        byte[] chunk = new byte[16 * 1024];
        int read;
        try
        {
            while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    await TooLarge(context, maxBytes);
                    return;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await TooLarge(context, maxBytes);
            return;
        }

        if (buffer.Length > 0 && JsonInputPolicy.Check(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)) is { } problem)
        {
            await ApiProblems.Field(problem.Field, problem.Message).ExecuteAsync(context);
            return;
        }

        buffer.Position = 0;
        request.Body = buffer;
        request.ContentLength = buffer.Length;
        await next(context);
    }

    /// <summary>Route values named <c>*Id</c> and query parameters named <c>*_id</c> are ids.</summary>
    private static FieldError? IdProblem(HttpContext context)
    {
        foreach ((string name, object? value) in context.Request.RouteValues)
        {
            if (name.EndsWith("Id", StringComparison.Ordinal) && value is string text && RecordKeys.Problem(text) is { } problem)
            {
                return new FieldError(name, problem);
            }
        }

        foreach ((string name, Microsoft.Extensions.Primitives.StringValues values) in context.Request.Query)
        {
            if (!name.EndsWith("_id", StringComparison.Ordinal))
            {
                continue;
            }

            if (values.Count > 1)
            {
                return new FieldError(name, "appears more than once");
            }

            // An empty value means "not given" to the endpoints (e.g. tenant_id= on a tenant key).
            if (values[0] is { Length: > 0 } text && RecordKeys.Problem(text) is { } problem)
            {
                return new FieldError(name, problem);
            }
        }

        return null;
    }

    private static bool HasBody(HttpRequest request) =>
        request.ContentLength > 0
        || (request.ContentLength is null && request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: true });

    private static Task TooLarge(HttpContext context, long maxBytes) => TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Payload too large",
        detail: $"The request body exceeds {maxBytes} bytes; split it into several requests.").ExecuteAsync(context);
}

/// <summary>
/// Endpoint metadata: the endpoint reads a non-JSON body itself (OTLP protobuf, possibly gzip) and applies its own
/// size limit, and <see cref="JsonInputPolicy"/> to any JSON it finds inside, so the middleware leaves the body alone.
/// </summary>
public sealed class OwnBodyPolicy;
