using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using LlmCost.Core.Recording;

namespace LlmCost.Core.Advice;

/// <summary>Money on the wire: a decimal string written by the one money formatter (<see cref="MoneyFormat"/>); reads a string or a number.</summary>
public sealed class MoneyJsonConverter : JsonConverter<decimal>
{
    public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            return reader.GetDecimal();
        }

        if (reader.TokenType == JsonTokenType.String
            && decimal.TryParse(reader.GetString(), NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out decimal value))
        {
            return value;
        }

        throw new JsonException("expected a decimal amount (\"0.05\" or 0.05)");
    }

    public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) =>
        MoneyFormat.WriteStringValue(writer, value);
}

/// <summary>Nullable money, same format.</summary>
public sealed class NullableMoneyJsonConverter : JsonConverter<decimal?>
{
    private static readonly MoneyJsonConverter s_inner = new();

    public override decimal? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? null : s_inner.Read(ref reader, typeof(decimal), options);

    public override void Write(Utf8JsonWriter writer, decimal? value, JsonSerializerOptions options)
    {
        if (value is { } amount)
        {
            s_inner.Write(writer, amount, options);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
