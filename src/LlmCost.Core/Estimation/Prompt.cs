using System.Text.Json;

namespace LlmCost.Core.Estimation;

/// <summary>How much detail an image is processed at (OpenAI's <c>detail</c>; other providers ignore it).</summary>
public enum ImageDetail
{
    /// <summary>The provider decides; estimated as <see cref="High"/> (the worst case).</summary>
    Auto,
    Low,
    High,
}

/// <summary>An image in a prompt, by its pixel size (images are never downloaded or decoded here).</summary>
public sealed record ImageInput(int Width, int Height, ImageDetail Detail = ImageDetail.Auto);

/// <summary>One chat message: text content, optional author name, optional images.</summary>
public sealed record ChatMessage(string Role, string? Content = null, string? Name = null)
{
    public IReadOnlyList<ImageInput> Images { get; init; } = [];
}

/// <summary>
/// A tool / function definition offered to the model. <see cref="Parameters"/> is its JSON schema
/// (OpenAI <c>parameters</c>, Anthropic <c>input_schema</c>, Gemini <c>parameters</c>).
/// </summary>
public sealed record ToolDefinition(string Name, string? Description = null, JsonElement? Parameters = null);

/// <summary>How many input tokens a prompt is, and how that number was obtained.</summary>
/// <param name="Tokens">The count (for estimates: already including the safety margin).</param>
/// <param name="Method">e.g. <c>exact:o200k_base</c>, <c>estimate:anthropic-o200k-x1.35</c>, <c>given</c>.</param>
/// <param name="Exact">True when counted with the model's own tokenizer (and published framing rules).</param>
public sealed record PromptTokenCount(long Tokens, string Method, bool Exact);
