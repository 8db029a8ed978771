using System.Text;
using System.Text.Json;

namespace LlmCost.Core.Tests;

public class MoneyFormatTests
{
    [Theory]
    [InlineData("0.013275", "0.013275")]
    [InlineData("12.50", "12.5")]
    [InlineData("3.000", "3")]
    [InlineData("100", "100")]
    [InlineData("0", "0")]
    [InlineData("0.000", "0")]
    [InlineData("-0.00", "0")]
    [InlineData("-1.2500", "-1.25")]
    [InlineData("0.0000000000001234", "0.0000000000001234")]
    [InlineData("0.0000000000000000000000000001", "0.0000000000000000000000000001")]
    [InlineData("79228162514264337593543950335", "79228162514264337593543950335")]
    public void Format_KeepsEveryDigitAndDropsTrailingZeros(string input, string expected)
    {
        decimal value = decimal.Parse(input, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(expected, MoneyFormat.Format(value));
        Assert.Equal(expected, Utf8(json => MoneyFormat.WriteStringValue(json, value)));
        Assert.Equal($"{{\"v\":\"{expected}\"}}", Utf8(json =>
        {
            json.WriteStartObject();
            MoneyFormat.WriteString(json, JsonEncodedText.Encode("v"), value);
            json.WriteEndObject();
        }));
    }

    [Fact]
    public void Format_OfNull_IsNull() => Assert.Null(MoneyFormat.Format((decimal?)null));

    [Fact]
    public void Normalize_DropsTheScaleOnly()
    {
        decimal normalized = MoneyFormat.Normalize(2.5000000m);
        Assert.Equal(2.5m, normalized);
        Assert.Equal("2.5", normalized.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Utf8(Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            write(json);
        }

        string text = Encoding.UTF8.GetString(stream.ToArray());
        return text.StartsWith('"') ? text.Trim('"') : text;
    }
}
