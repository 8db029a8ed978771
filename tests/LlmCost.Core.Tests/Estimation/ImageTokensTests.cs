using LlmCost.Core.Estimation;

namespace LlmCost.Core.Tests.Estimation;

public sealed class ImageTokensTests
{
    [Theory]
    // OpenAI docs' own examples: 1024x1024 high -> 768x768 -> 4 tiles -> 85 + 4*170 = 765;
    // 2048x4096 -> fits 2048 as 1024x2048 -> shortest side 768 -> 768x1536 -> 2x3 tiles -> 85 + 6*170 = 1105.
    [InlineData("gpt-4o", 1024, 1024, ImageDetail.High, 765)]
    [InlineData("gpt-4o", 2048, 4096, ImageDetail.High, 1105)]
    [InlineData("gpt-4o", 4096, 8192, ImageDetail.Low, 85)]
    // 512x512 fits one tile: 85 + 170.
    [InlineData("gpt-4o", 512, 512, ImageDetail.Auto, 255)]
    // 513x500: not scaled (shortest side 500 <= 768), 2x1 tiles: 85 + 340.
    [InlineData("gpt-4o", 513, 500, ImageDetail.High, 425)]
    // 1920x1080: shortest side 1080 -> 768, 1365.3x768 -> 3x2 tiles = 6: 85 + 1020.
    [InlineData("gpt-4.1", 1920, 1080, ImageDetail.High, 1105)]
    // gpt-4o-mini: 2833 + 4 * 5667 = 25501.
    [InlineData("gpt-4o-mini", 1024, 1024, ImageDetail.High, 25501)]
    // o3: 75 + 4 * 150 = 675; gpt-5: 70 + 4 * 140 = 630.
    [InlineData("o3", 1024, 1024, ImageDetail.High, 675)]
    [InlineData("gpt-5", 1024, 1024, ImageDetail.High, 630)]
    // Patch models: 1024x1024 = 32x32 = 1024 patches * 1.62 = 1658.88 -> 1659.
    [InlineData("gpt-4.1-mini", 1024, 1024, ImageDetail.High, 1659)]
    // Docs example: 1800x2400 -> 1452 patches (33 x 44 after scaling); * 2.46 = 3571.92 -> 3572.
    [InlineData("gpt-4.1-nano", 1800, 2400, ImageDetail.High, 3572)]
    public void OpenAi(string model, int width, int height, ImageDetail detail, long expected) =>
        Assert.Equal(expected, ImageTokens.OpenAi(model, new ImageInput(width, height, detail)));

    [Theory]
    // Anthropic docs' table: 200x200 ~ 54, 1000x1000 ~ 1334, 1092x1092 ~ 1590 (ceil of w*h/750).
    [InlineData(200, 200, 54)]
    [InlineData(1000, 1000, 1334)]
    [InlineData(1092, 1092, 1590)]
    // 3000x2000 -> long edge 1568 -> 1568x1045.3 = 2185 tokens, above the ~1,600 cap -> 1600.
    [InlineData(3000, 2000, 1600)]
    // 1568x200 is within limits: 313600 / 750 = 418.13 -> 419.
    [InlineData(1568, 200, 419)]
    public void Anthropic(int width, int height, long expected) =>
        Assert.Equal(expected, ImageTokens.Anthropic(new ImageInput(width, height)));

    [Theory]
    [InlineData(384, 384, 258)]
    [InlineData(100, 50, 258)]
    [InlineData(768, 768, 258)]
    [InlineData(385, 200, 258)]
    [InlineData(1000, 800, 1032)]
    [InlineData(1920, 1080, 1548)]
    public void Gemini(int width, int height, long expected) =>
        Assert.Equal(expected, ImageTokens.Gemini(new ImageInput(width, height)));
}
