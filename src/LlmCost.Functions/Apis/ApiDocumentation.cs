using System.Text.Json.Nodes;
using LlmCost.Core.Budgets;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace LlmCost.Functions.Apis;

/// <summary>
/// What every operation of <c>/openapi/v1.json</c> gets without its endpoint asking, so that a generated client knows
/// every answer: the bearer-key security scheme; RFC 9457 problem responses (400 validation problem when the operation
/// takes input, 401/403 when it needs a key, 404 when it addresses a record by id, 413 when it takes a body, 503 with
/// Retry-After when storage is down); and an example for every request and response body that has no hand-written one,
/// built from its schema. Endpoints declare their own bodies (<c>.Accepts&lt;T&gt;()</c>, <c>.Produces&lt;T&gt;()</c>):
/// see docs/api.md.
/// </summary>
internal static class ApiDocumentation
{
    private const string ProblemJson = "application/problem+json";
    private const string BearerScheme = "ApiKey";

    public static void Configure(OpenApiOptions options)
    {
        options.AddOperationTransformer(AddProblemsAndSecurity);
        // The authorise endpoint binds Core's request records; their schemas keep the names they were published
        // under, so a client generated from the document keeps its class names.
        options.CreateSchemaReferenceId = type =>
            type.Type == typeof(AuthorizeRequest) ? "AuthorizeBody"
            : type.Type == typeof(PromptMessage) ? "MessageBody"
            : OpenApiOptions.CreateDefaultSchemaReferenceId(type);
        options.AddDocumentTransformer(async (document, context, cancellationToken) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "LlmCost API",
                Version = "v1",
                Description = "Metering of LLM costs: record usage exactly once, price it from the genai-prices catalog, enforce budgets, "
                    + "query usage, alerts, reports. Money is a decimal string in USD; JSON is snake_case; errors are RFC 9457 problem details. "
                    + "Authenticate with 'Authorization: Bearer <api key>'.",
            };
            // The document describes the API, not the instance that served it (the snapshot must not depend on a port).
            document.Servers = [];
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key (admin, ingest or reader) as 'Authorization: Bearer <key>'.",
            };
            document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
            foreach (Type type in new[] { typeof(ProblemDetails), typeof(HttpValidationProblemDetails) })
            {
                if (!document.Components.Schemas.ContainsKey(type.Name))
                {
                    document.Components.Schemas[type.Name] = await context.GetOrCreateSchemaAsync(type, null, cancellationToken);
                }
            }

            AddExamples(document);
        });
    }

    /// <summary>
    /// The interactive API reference (Scalar) at <c>/scalar</c>, reading <c>/openapi/v1.json</c>. Its script is served
    /// by the app from the package's embedded assets: nothing is fetched from the internet.
    /// </summary>
    public static IEndpointRouteBuilder MapApiReference(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapScalarApiReference(options => options.WithTitle("LlmCost API"));
        return endpoints;
    }

    private static readonly Dictionary<string, string> s_queryDescriptions = new(StringComparer.Ordinal)
    {
        ["tenant_id"] = "The tenant (required with an admin key; a tenant key's own tenant otherwise).",
        ["from"] = "Start, inclusive: an ISO date (00:00 UTC) or a date-time with offset. Default: 30 days before to.",
        ["to"] = "End, exclusive: an ISO date or a date-time with offset. Default: the end of the current hour.",
        ["granularity"] = "hour, day (default) or month.",
        ["group_by"] = "provider or model.",
        ["page_size"] = "Events per page (1-1000, default 100).",
        ["continuation_token"] = "The token of the previous page.",
        ["import"] = "true (admin keys only): an import of history, older timestamps allowed.",
        ["currency"] = "An ISO 4217 code with a configured rate: money is also given in it (costs stay computed in USD).",
        ["by"] = "model (default), provider, team or user.",
        ["user_id"] = "Only this user's usage.",
        ["team_id"] = "Only this team's usage.",
        ["provider"] = "Only this provider's usage.",
        ["model"] = "Only this model's usage.",
    };

    private static Task AddProblemsAndSecurity(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        IList<object> metadata = context.Description.ActionDescriptor.EndpointMetadata;
        bool anonymous = metadata.OfType<IAllowAnonymous>().Any() || !metadata.OfType<IAuthorizeData>().Any();
        bool takesBody = operation.RequestBody is not null;
        bool addressesRecord = context.Description.RelativePath?.Contains('{', StringComparison.Ordinal) == true;
        operation.Responses ??= new OpenApiResponses();
        foreach (DocumentedQuery query in metadata.OfType<DocumentedQuery>())
        {
            foreach (string name in query.Names)
            {
                operation.Parameters ??= [];
                if (!operation.Parameters.Any(p => p.Name == name && p.In == ParameterLocation.Query))
                {
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = name,
                        In = ParameterLocation.Query,
                        Description = s_queryDescriptions.GetValueOrDefault(name),
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                    });
                }
            }
        }

        // After the documented queries: a handler that reads its parameters itself validates them too.
        bool takesInput = takesBody || operation.Parameters?.Count > 0;
        if (takesInput)
        {
            AddProblem(operation, context, StatusCodes.Status400BadRequest, "Invalid input: `errors` names each offending field.", validation: true);
        }

        if (!anonymous)
        {
            AddProblem(operation, context, StatusCodes.Status401Unauthorized, "No API key, or not a valid one.");
            AddProblem(operation, context, StatusCodes.Status403Forbidden, "The key's role or tenant may not do this.");
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] });
        }

        if (addressesRecord)
        {
            AddProblem(operation, context, StatusCodes.Status404NotFound, "No such record (or not one this key may see).");
        }

        if (takesBody)
        {
            AddProblem(operation, context, StatusCodes.Status413PayloadTooLarge, "The body exceeds the configured limit.");
        }

        AddProblem(operation, context, StatusCodes.Status503ServiceUnavailable, "Storage did not answer in time; retry after the Retry-After header's seconds.");
        return Task.CompletedTask;
    }

    private static void AddProblem(OpenApiOperation operation, OpenApiOperationTransformerContext context, int status, string description, bool validation = false)
    {
        string key = status.ToString(CultureInfo.InvariantCulture);
        if (operation.Responses!.TryGetValue(key, out IOpenApiResponse? existing) && existing.Content?.Count > 0)
        {
            return;
        }

        string schema = validation ? nameof(HttpValidationProblemDetails) : nameof(ProblemDetails);
        operation.Responses[key] = new OpenApiResponse
        {
            Description = existing?.Description is { Length: > 0 } text && text != ReasonPhrase(status) ? text : description,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                [ProblemJson] = new() { Schema = new OpenApiSchemaReference(schema, context.Document) },
            },
        };
    }

    private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);

    /// <summary>An example for every body without one, built from its schema (references resolved, depth bounded).</summary>
    private static void AddExamples(OpenApiDocument document)
    {
        foreach (IOpenApiPathItem path in document.Paths.Values)
        {
            foreach (OpenApiOperation operation in path.Operations?.Values.AsEnumerable() ?? [])
            {
                foreach (OpenApiMediaType media in operation.RequestBody?.Content?.Values.AsEnumerable() ?? [])
                {
                    media.Example ??= media.Schema is null ? null : Example(document, media.Schema, null, 0);
                }

                foreach (IOpenApiResponse response in operation.Responses?.Values.AsEnumerable() ?? [])
                {
                    foreach (OpenApiMediaType media in response.Content?.Values.AsEnumerable() ?? [])
                    {
                        media.Example ??= media.Schema is null ? null : Example(document, media.Schema, null, 0);
                    }
                }
            }
        }
    }

    private static JsonNode? Example(OpenApiDocument document, IOpenApiSchema schema, string? name, int depth)
    {
        if (depth > 6)
        {
            return null;
        }

        if (schema is OpenApiSchemaReference reference)
        {
            string? id = reference.Reference?.Id;
            return id is not null && document.Components?.Schemas?.TryGetValue(id, out IOpenApiSchema? target) == true && target is not OpenApiSchemaReference
                ? Example(document, target, name, depth + 1)
                : null;
        }

        if (schema.Examples?.Count > 0 && schema.Examples[0] is { } given)
        {
            return given.DeepClone();
        }

        if (schema.Enum?.Count > 0)
        {
            return schema.Enum[0]?.DeepClone();
        }

        IList<IOpenApiSchema>? alternatives = schema.OneOf?.Count > 0 ? schema.OneOf : schema.AnyOf;
        if (alternatives?.Count > 0)
        {
            IOpenApiSchema first = alternatives.FirstOrDefault(s => s.Type != JsonSchemaType.Null) ?? alternatives[0];
            return Example(document, first, name, depth + 1);
        }

        JsonSchemaType type = (schema.Type ?? 0) & ~JsonSchemaType.Null;
        if (type.HasFlag(JsonSchemaType.Object) || schema.Properties?.Count > 0)
        {
            var result = new JsonObject();
            foreach ((string property, IOpenApiSchema propertySchema) in schema.Properties ?? new Dictionary<string, IOpenApiSchema>())
            {
                result[property] = Example(document, propertySchema, property, depth + 1);
            }

            if (result.Count == 0 && schema.AdditionalProperties is { } values)
            {
                string key = name == "tags" ? "feature" : "input_tokens";
                result[key] = Example(document, values, key, depth + 1);
            }

            return result;
        }

        if (type.HasFlag(JsonSchemaType.Array))
        {
            return schema.Items is null ? new JsonArray() : new JsonArray(Example(document, schema.Items, Singular(name), depth + 1));
        }

        if (type.HasFlag(JsonSchemaType.Integer))
        {
            return name?.Contains("tokens", StringComparison.Ordinal) == true ? 1000 : 1;
        }

        if (type.HasFlag(JsonSchemaType.Number))
        {
            return 0.5m;
        }

        if (type.HasFlag(JsonSchemaType.Boolean))
        {
            return false;
        }

        if (type == 0 && name == "raw_usage")
        {
            // Free-form JSON: the provider's own usage object, e.g. OpenAI chat's.
            return new JsonObject { ["prompt_tokens"] = 1000, ["completion_tokens"] = 200, ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = 400 } };
        }

        if (type.HasFlag(JsonSchemaType.String) || type == 0)
        {
            return StringExample(name, schema.Format);
        }

        return null;
    }

    private static string? Singular(string? name) => name is { Length: > 1 } && name.EndsWith('s') ? name[..^1] : name;

    /// <summary>Plausible values by field name, so an example reads like a real request.</summary>
    private static string StringExample(string? name, string? format) => (name, format) switch
    {
        (_, "date-time") => "2025-03-10T09:15:00Z",
        (_, "date") => "2025-03-10",
        ("tenant_id", _) => "acme",
        ("user_id", _) => "alice",
        ("team_id", _) => "red",
        ("event_id", _) => "evt-2025-03-10-0001",
        ("model", _) => "gpt-4o",
        ("provider", _) or ("provider_id", _) => "openai",
        ("status", _) => "success",
        ("currency", _) => "USD",
        ({ } n, _) when n.EndsWith("_usd", StringComparison.Ordinal) => "0.0075",
        ({ } n, _) when n.EndsWith("_at", StringComparison.Ordinal) || n is "timestamp" or "from" or "to" => "2025-03-10T09:15:00Z",
        ({ } n, _) when n.EndsWith("_id", StringComparison.Ordinal) => n[..^3] + "-1",
        ({ } n, _) => n,
        _ => "string",
    };
}

/// <summary>Endpoint metadata: query parameters a handler reads itself (from the request), documented as strings.</summary>
internal sealed class DocumentedQuery(params string[] names)
{
    public IReadOnlyList<string> Names { get; } = names;
}
