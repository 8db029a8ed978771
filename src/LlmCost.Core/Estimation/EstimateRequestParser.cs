// Long on purpose: one parser for the estimate request's provider-shaped bodies (messages, tools, images), every field
// checked and named by its path.
using System.Globalization;
using System.Text.Json;
using LlmCost.Core.Usage;

namespace LlmCost.Core.Estimation;

/// <summary>The outcome of reading an estimate request: the request, or every problem with it (naming fields).</summary>
public sealed record EstimateRequestParseResult(EstimateRequest? Request, IReadOnlyList<FieldError> Errors)
{
    public bool IsValid => Request is not null && Errors.Count == 0;
}

/// <summary>
/// Reads an estimate request from JSON (snake_case, as on the wire):
/// <code>
/// {"provider":"openai","model":"gpt-4o","timestamp":"2026-06-01T12:00:00Z","max_tokens":1000,
///  "system":"...", "messages":[{"role":"user","content":"..." | [parts], "name":"..."}],
///  "tools":[{"type":"function","function":{"name":..,"description":..,"parameters":{..}}} | {"name":..,"input_schema":{..}}],
///  "input_tokens":1234, "thinking_budget_tokens":0, "may_write_cache":false, "tenant_id":"..."}
/// </code>
/// <c>max_tokens</c> may also be spelled <c>max_completion_tokens</c> or <c>max_output_tokens</c> (or Gemini's
/// <c>generationConfig.maxOutputTokens</c>, whose <c>thinkingConfig.thinkingBudget</c> is added) and is required.
/// Provider request bodies are accepted as they are: OpenAI chat (<c>messages</c>), Responses (<c>input</c>,
/// <c>instructions</c>), Anthropic (<c>system</c>, <c>messages</c>) and Gemini (<c>contents[].parts</c>,
/// <c>systemInstruction</c>).
/// Content parts are <c>{"type":"text","text":..}</c> or an image with its pixel size:
/// <c>{"type":"image"|"image_url","width":W,"height":H,"detail":"low|high|auto"}</c> (images are never fetched, so
/// the size must be given). Unknown top-level keys are ignored so a whole provider request body can be passed.
/// </summary>
public static class EstimateRequestParser
{
    public static EstimateRequestParseResult Parse(JsonElement root)
    {
        var errors = new List<FieldError>();
        if (root.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError("$", $"must be a JSON object, got {UsageCounts.Describe(root.ValueKind)}"));
            return new EstimateRequestParseResult(null, errors);
        }

        string? provider = OptionalString(root, "provider", errors);
        string? model = OptionalString(root, "model", errors);
        if (string.IsNullOrWhiteSpace(model))
        {
            errors.Add(new FieldError("model", "is required"));
        }

        string? tenant = OptionalString(root, "tenant_id", errors);
        DateTimeOffset? timestamp = null;
        if (OptionalString(root, "timestamp", errors) is { } ts)
        {
            if (DateTimeOffset.TryParse(ts, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed))
            {
                timestamp = parsed;
            }
            else
            {
                errors.Add(new FieldError("timestamp", $"is not an ISO 8601 date-time: '{ts}'"));
            }
        }

        long? maxTokens = null;
        foreach (string name in (ReadOnlySpan<string>)["max_tokens", "max_completion_tokens", "max_output_tokens"])
        {
            if (Count(root, name, errors) is { } value)
            {
                maxTokens = value;
                break;
            }
        }

        long? geminiThinking = null;
        if (root.TryGetProperty("generationConfig", out JsonElement generation) && generation.ValueKind == JsonValueKind.Object)
        {
            // Gemini request body: the thinking budget is outside maxOutputTokens.
            maxTokens ??= Count(generation, "maxOutputTokens", errors, "generationConfig");
            if (generation.TryGetProperty("thinkingConfig", out JsonElement thinkingConfig) && thinkingConfig.ValueKind == JsonValueKind.Object)
            {
                geminiThinking = Count(thinkingConfig, "thinkingBudget", errors, "generationConfig.thinkingConfig");
            }
        }

        if (maxTokens is null && !errors.Any(e => e.Field.StartsWith("max_", StringComparison.Ordinal) || e.Field.StartsWith("generationConfig", StringComparison.Ordinal)))
        {
            errors.Add(new FieldError("max_tokens", "is required: the worst case is the prompt plus the full output limit"));
        }

        long? inputTokens = Count(root, "input_tokens", errors);
        long thinking = Count(root, "thinking_budget_tokens", errors) ?? geminiThinking ?? 0;
        bool mayWriteCache = false;
        if (root.TryGetProperty("may_write_cache", out JsonElement cache))
        {
            if (cache.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                mayWriteCache = cache.GetBoolean();
            }
            else
            {
                errors.Add(new FieldError("may_write_cache", $"must be a boolean, got {UsageCounts.Describe(cache.ValueKind)}"));
            }
        }

        var messages = new List<ChatMessage>();
        // System prompts beside the messages: Anthropic "system", Responses "instructions", Gemini "systemInstruction".
        foreach (string key in (ReadOnlySpan<string>)["system", "instructions", "systemInstruction"])
        {
            if (root.TryGetProperty(key, out JsonElement system) && system.ValueKind != JsonValueKind.Null)
            {
                (string? text, List<ImageInput> images) = system.ValueKind == JsonValueKind.Object && system.TryGetProperty("parts", out JsonElement parts)
                    ? ReadContent(parts, $"{key}.parts", errors)
                    : ReadContent(system, key, errors);
                messages.Add(new ChatMessage("system", text) { Images = images });
            }
        }

        // The conversation: chat "messages", Responses "input" (a string or a list of messages), Gemini "contents".
        foreach (string key in (ReadOnlySpan<string>)["messages", "input", "contents"])
        {
            if (!root.TryGetProperty(key, out JsonElement list) || list.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            if (key == "input" && list.ValueKind == JsonValueKind.String)
            {
                messages.Add(new ChatMessage("user", list.GetString()));
                continue;
            }

            if (list.ValueKind != JsonValueKind.Array)
            {
                errors.Add(new FieldError(key, $"must be an array, got {UsageCounts.Describe(list.ValueKind)}"));
                continue;
            }

            int i = 0;
            foreach (JsonElement item in list.EnumerateArray())
            {
                if (ReadMessage(item, $"{key}[{i}]", errors) is { } message)
                {
                    messages.Add(message);
                }

                i++;
            }
        }

        var tools = new List<ToolDefinition>();
        if (root.TryGetProperty("tools", out JsonElement toolList) && toolList.ValueKind != JsonValueKind.Null)
        {
            if (toolList.ValueKind != JsonValueKind.Array)
            {
                errors.Add(new FieldError("tools", $"must be an array, got {UsageCounts.Describe(toolList.ValueKind)}"));
            }
            else
            {
                int i = 0;
                foreach (JsonElement item in toolList.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("functionDeclarations", out JsonElement declarations)
                        && declarations.ValueKind == JsonValueKind.Array)
                    {
                        // Gemini groups its functions: {"functionDeclarations":[{name, description, parameters}]}.
                        int j = 0;
                        foreach (JsonElement declaration in declarations.EnumerateArray())
                        {
                            if (ReadTool(declaration, $"tools[{i}].functionDeclarations[{j++}]", errors) is { } declared)
                            {
                                tools.Add(declared);
                            }
                        }
                    }
                    else if (ReadTool(item, $"tools[{i}]", errors) is { } tool)
                    {
                        tools.Add(tool);
                    }

                    i++;
                }
            }
        }

        if (inputTokens is null && messages.Count == 0
            && !errors.Any(e => e.Field.StartsWith("messages", StringComparison.Ordinal) || e.Field.StartsWith("input", StringComparison.Ordinal)
                                || e.Field.StartsWith("contents", StringComparison.Ordinal)))
        {
            errors.Add(new FieldError("messages", "either messages (the prompt) or input_tokens is required"));
        }

        if (errors.Count > 0)
        {
            return new EstimateRequestParseResult(null, errors);
        }

        return new EstimateRequestParseResult(new EstimateRequest
        {
            Provider = provider,
            Model = model!,
            Timestamp = timestamp,
            Messages = messages,
            Tools = tools,
            InputTokens = inputTokens,
            MaxOutputTokens = maxTokens ?? 0,
            ThinkingBudgetTokens = thinking,
            MayWriteCache = mayWriteCache,
            TenantId = tenant,
        }, errors);
    }

    private static ChatMessage? ReadMessage(JsonElement item, string path, List<FieldError> errors)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError(path, $"must be an object, got {UsageCounts.Describe(item.ValueKind)}"));
            return null;
        }

        string? role = OptionalString(item, "role", errors, path);
        if (string.IsNullOrEmpty(role))
        {
            errors.Add(new FieldError($"{path}.role", "is required"));
        }

        string? name = OptionalString(item, "name", errors, path);
        string? text = null;
        List<ImageInput> images = [];
        if (item.TryGetProperty("content", out JsonElement content))
        {
            (text, images) = ReadContent(content, $"{path}.content", errors);
        }
        else if (item.TryGetProperty("parts", out JsonElement parts))
        {
            // Gemini: {"role":"user","parts":[{"text":...}]}.
            (text, images) = ReadContent(parts, $"{path}.parts", errors);
        }

        return new ChatMessage(role ?? "", text, name) { Images = images };
    }

    private static (string? Text, List<ImageInput> Images) ReadContent(JsonElement content, string path, List<FieldError> errors)
    {
        var images = new List<ImageInput>();
        switch (content.ValueKind)
        {
            case JsonValueKind.Null:
                return (null, images);
            case JsonValueKind.String:
                return (content.GetString(), images);
            case JsonValueKind.Array:
                break;
            default:
                errors.Add(new FieldError(path, $"must be a string or an array of parts, got {UsageCounts.Describe(content.ValueKind)}"));
                return (null, images);
        }

        var text = new System.Text.StringBuilder();
        int i = 0;
        foreach (JsonElement part in content.EnumerateArray())
        {
            string partPath = $"{path}[{i++}]";
            if (part.ValueKind == JsonValueKind.String)
            {
                text.Append(part.GetString());
                continue;
            }

            if (part.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new FieldError(partPath, $"must be an object, got {UsageCounts.Describe(part.ValueKind)}"));
                continue;
            }

            string type = part.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "text";
            if (type is "image" or "image_url" or "input_image" || part.TryGetProperty("width", out _)
                || part.TryGetProperty("inlineData", out _) || part.TryGetProperty("fileData", out _))
            {
                if (ReadImage(part, partPath, errors) is { } image)
                {
                    images.Add(image);
                }
            }
            else if (part.TryGetProperty("text", out JsonElement partText) && partText.ValueKind == JsonValueKind.String)
            {
                // Parts are joined as one text: tokenizing them apart could only differ at the seams.
                text.Append(partText.GetString());
            }
            else if (type is "tool_use" or "tool_result" or "function_call" or "function_call_output"
                     || part.TryGetProperty("functionCall", out _) || part.TryGetProperty("functionResponse", out _))
            {
                // Tool calls and results fed back: their JSON text is an over- rather than under-estimate.
                text.Append(part.GetRawText());
            }
            else
            {
                errors.Add(new FieldError(partPath, $"unsupported content part type '{type}' (expected text, image or a tool call/result)"));
            }
        }

        return (text.Length == 0 ? null : text.ToString(), images);
    }

    private static ImageInput? ReadImage(JsonElement part, string path, List<FieldError> errors)
    {
        int before = errors.Count;
        long? width = Count(part, "width", errors, path);
        long? height = Count(part, "height", errors, path);
        if (width is null or 0 || height is null or 0)
        {
            if (errors.Count == before)
            {
                errors.Add(new FieldError(path, "an image needs positive width and height in pixels (images are not fetched)"));
            }

            return null;
        }

        if (width > 100_000 || height > 100_000)
        {
            errors.Add(new FieldError(path, "width and height must be at most 100000 pixels"));
            return null;
        }

        string? detail = null;
        if (part.TryGetProperty("detail", out JsonElement d) && d.ValueKind == JsonValueKind.String)
        {
            detail = d.GetString();
        }
        else if (part.TryGetProperty("image_url", out JsonElement url) && url.ValueKind == JsonValueKind.Object
                 && url.TryGetProperty("detail", out JsonElement nested) && nested.ValueKind == JsonValueKind.String)
        {
            detail = nested.GetString();
        }

        ImageDetail level = detail?.ToLowerInvariant() switch
        {
            null or "auto" => ImageDetail.Auto,
            "low" => ImageDetail.Low,
            "high" => ImageDetail.High,
            _ => (ImageDetail)(-1),
        };
        if ((int)level == -1)
        {
            errors.Add(new FieldError($"{path}.detail", $"must be low, high or auto, got '{detail}'"));
            return null;
        }

        return new ImageInput((int)width, (int)height, level);
    }

    private static ToolDefinition? ReadTool(JsonElement item, string path, List<FieldError> errors)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError(path, $"must be an object, got {UsageCounts.Describe(item.ValueKind)}"));
            return null;
        }

        // OpenAI chat nests the definition under "function"; Responses, Anthropic and Gemini do not.
        JsonElement definition = item;
        string definitionPath = path;
        if (item.TryGetProperty("function", out JsonElement function) && function.ValueKind == JsonValueKind.Object)
        {
            definition = function;
            definitionPath = $"{path}.function";
        }

        string? name = OptionalString(definition, "name", errors, definitionPath);
        if (string.IsNullOrEmpty(name))
        {
            errors.Add(new FieldError($"{definitionPath}.name", "is required"));
            return null;
        }

        string? description = OptionalString(definition, "description", errors, definitionPath);
        JsonElement? parameters = null;
        foreach (string key in (ReadOnlySpan<string>)["parameters", "input_schema"])
        {
            if (definition.TryGetProperty(key, out JsonElement schema) && schema.ValueKind == JsonValueKind.Object)
            {
                parameters = schema.Clone();
                break;
            }
        }

        return new ToolDefinition(name, description, parameters);
    }

    private static string? OptionalString(JsonElement obj, string name, List<FieldError> errors, string? path = null)
    {
        if (!obj.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            errors.Add(new FieldError(path is null ? name : $"{path}.{name}", $"must be a string, got {UsageCounts.Describe(value.ValueKind)}"));
            return null;
        }

        return value.GetString();
    }

    private static long? Count(JsonElement obj, string name, List<FieldError> errors, string? path = null)
    {
        if (!obj.TryGetProperty(name, out JsonElement value))
        {
            return null;
        }

        return UsageCounts.TryRead(value, path is null ? name : $"{path}.{name}", errors, out long count) ? count : null;
    }
}
