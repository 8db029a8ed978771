using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmCost.Client;

/// <summary>The service's JSON conventions: snake_case names, nulls left out, money as decimal strings.</summary>
internal static class LlmCostJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DictionaryKeyPolicy = null,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            NumberHandling = JsonNumberHandling.Strict,
        };
        options.Converters.Add(new DecimalStringConverter());
        options.Converters.Add(new NullableDecimalStringConverter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    /// <summary>Money on the wire: written as an invariant decimal string (exact), read from a string or a number.</summary>
    private sealed class DecimalStringConverter : JsonConverter<decimal>
    {
        public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.Number)
            {
                return reader.GetDecimal();
            }

            if (reader.TokenType == JsonTokenType.String)
            {
                string text = reader.GetString()!;
                if (decimal.TryParse(text, NumberStyles.Number | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out decimal value))
                {
                    return value;
                }

                throw new JsonException($"'{text}' is not a decimal amount");
            }

            throw new JsonException($"expected a decimal string or number, got {reader.TokenType}");
        }

        public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
    }

    private sealed class NullableDecimalStringConverter : JsonConverter<decimal?>
    {
        private readonly DecimalStringConverter _inner = new();

        public override bool HandleNull => true;

        public override decimal? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? null : _inner.Read(ref reader, typeof(decimal), options);

        public override void Write(Utf8JsonWriter writer, decimal? value, JsonSerializerOptions options)
        {
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                _inner.Write(writer, value.Value, options);
            }
        }
    }
}

/// <summary>The service's id rule (tenant, user, team, event, key, reservation ids), mirrored so an app can check an id
/// before sending it: the service refuses such ids rather than rewriting them.</summary>
public static class LlmCostIds
{
    public const int MaxLength = 128;

    /// <summary>1-128 characters, none of <c>/ \ # ? |</c> or control characters, no surrounding whitespace.</summary>
    public static bool IsValid(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength || value.Trim().Length != value.Length)
        {
            return false;
        }

        foreach (char c in value)
        {
            if (c is '/' or '\\' or '#' or '?' or '|' || c <= '\u001F' || (c >= '\u007F' && c <= '\u009F'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A valid event id also must not start with '~' (reserved for the service's summary rows).</summary>
    public static bool IsValidEventId(string? value) => IsValid(value) && value![0] != '~';

    /// <summary>A new random, time-ordered id.</summary>
    public static string NewId() => Guid.CreateVersion7().ToString("N");
}
