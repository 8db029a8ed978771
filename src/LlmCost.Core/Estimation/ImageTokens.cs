namespace LlmCost.Core.Estimation;

/// <summary>
/// Input tokens of one image, by each provider's published formula. Images are never decoded: callers pass the
/// pixel size.
/// </summary>
public static class ImageTokens
{
    /// <summary>
    /// OpenAI (platform.openai.com/docs/guides/images-vision, "Calculating costs").
    /// <para>Tile models: <c>low</c> detail costs the base tokens only. Otherwise the image is scaled down to fit
    /// 2048x2048, then down so its shortest side is at most 768, and covered by 512px tiles:
    /// <c>base + tile * tiles</c>. Base/tile are 85/170 for gpt-4o, gpt-4.1, gpt-4.5 (and the default);
    /// 2833/5667 for gpt-4o-mini; 75/150 for o1, o1-pro, o3; 70/140 for gpt-5; 65/129 for computer-use-preview.
    /// Examples from the docs: 1024x1024 high = 765, 2048x4096 high = 1105, any low = 85.</para>
    /// <para>Patch models (gpt-4.1-mini, gpt-4.1-nano, gpt-5-mini, gpt-5-nano, o4-mini): 32px patches, at most 1536
    /// (the image is scaled down to fit), times a multiplier (1.62, 2.46, 1.62, 2.46, 1.72), rounded up.</para>
    /// </summary>
    public static long OpenAi(string model, ImageInput image)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(image);
        Guard(image);
        string name = model.Trim().ToLowerInvariant();
        double? patchMultiplier = PatchMultiplier(name);
        if (patchMultiplier is { } multiplier)
        {
            return (long)Math.Ceiling(Patches(image.Width, image.Height) * multiplier - 1e-9);
        }

        (int baseTokens, int tileTokens) = TileCosts(name);
        if (image.Detail == ImageDetail.Low)
        {
            return baseTokens;
        }

        double w = image.Width, h = image.Height;
        if (w > 2048 || h > 2048)
        {
            double scale = 2048 / Math.Max(w, h);
            w *= scale;
            h *= scale;
        }

        if (Math.Min(w, h) > 768)
        {
            double scale = 768 / Math.Min(w, h);
            w *= scale;
            h *= scale;
        }

        long tiles = CeilDiv(w, 512) * CeilDiv(h, 512);
        return baseTokens + (tileTokens * tiles);
    }

    /// <summary>
    /// Anthropic (docs.claude.com "Vision", "Calculate image costs"): <c>tokens = ceil(width * height / 750)</c>
    /// after the image is scaled down so its long edge is at most 1568px; images still above ~1,600 tokens
    /// (~1.15 megapixels) are scaled down further, so the result is capped at 1,600. Docs examples: 200x200 ≈ 54,
    /// 1000x1000 ≈ 1334, 1092x1092 ≈ 1590.
    /// </summary>
    public static long Anthropic(ImageInput image)
    {
        ArgumentNullException.ThrowIfNull(image);
        Guard(image);
        double w = image.Width, h = image.Height;
        double longEdge = Math.Max(w, h);
        if (longEdge > 1568)
        {
            double scale = 1568 / longEdge;
            w *= scale;
            h *= scale;
        }

        long tokens = (long)Math.Ceiling((w * h / 750) - 1e-9);
        return Math.Min(tokens, 1600);
    }

    /// <summary>
    /// Gemini (ai.google.dev "Token counting", images): an image with both sides at most 384px is 258 tokens;
    /// a larger one is cropped/scaled into 768x768 tiles of 258 tokens each, estimated here as
    /// <c>ceil(w/768) * ceil(h/768) * 258</c>.
    /// </summary>
    public static long Gemini(ImageInput image)
    {
        ArgumentNullException.ThrowIfNull(image);
        Guard(image);
        if (image.Width <= 384 && image.Height <= 384)
        {
            return 258;
        }

        return CeilDiv(image.Width, 768) * CeilDiv(image.Height, 768) * 258;
    }

    private static void Guard(ImageInput image)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(image.Width, nameof(image));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(image.Height, nameof(image));
    }

    private static (int Base, int Tile) TileCosts(string model)
    {
        if (model.StartsWith("gpt-4o-mini", StringComparison.Ordinal))
        {
            return (2833, 5667);
        }

        if (model.StartsWith("o1", StringComparison.Ordinal) || model.StartsWith("o3", StringComparison.Ordinal))
        {
            return (75, 150);
        }

        if (model.StartsWith("gpt-5", StringComparison.Ordinal))
        {
            return (70, 140);
        }

        if (model.StartsWith("computer-use", StringComparison.Ordinal))
        {
            return (65, 129);
        }

        return (85, 170);
    }

    private static double? PatchMultiplier(string model)
    {
        if (model.StartsWith("gpt-4.1-mini", StringComparison.Ordinal) || model.StartsWith("gpt-5-mini", StringComparison.Ordinal))
        {
            return 1.62;
        }

        if (model.StartsWith("gpt-4.1-nano", StringComparison.Ordinal) || model.StartsWith("gpt-5-nano", StringComparison.Ordinal))
        {
            return 2.46;
        }

        if (model.StartsWith("o4-mini", StringComparison.Ordinal))
        {
            return 1.72;
        }

        return null;
    }

    /// <summary>OpenAI's patch count: 32px patches, scaled down to at most 1536 patches.</summary>
    private static long Patches(int width, int height)
    {
        long raw = CeilDiv(width, 32) * CeilDiv(height, 32);
        if (raw <= 1536)
        {
            return raw;
        }

        // The docs' algorithm: shrink by sqrt(32^2 * 1536 / (w*h)), then shrink a little more so that the limiting
        // side is a whole number of patches.
        double w = width, h = height;
        double shrink = Math.Sqrt(32.0 * 32.0 * 1536 / (w * h));
        double wp = w * shrink / 32, hp = h * shrink / 32;
        shrink *= Math.Min(Math.Floor(wp) / wp, Math.Floor(hp) / hp);
        long patches = CeilDiv(w * shrink, 32) * CeilDiv(h * shrink, 32);
        return Math.Min(patches, 1536);
    }

    // Tolerates floating-point noise: 1408.0000000002 / 32 is 44 patches, not 45.
    private static long CeilDiv(double value, double size) => (long)Math.Ceiling((value / size) - 1e-9);
}
