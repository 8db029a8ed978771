using System.Text;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;

namespace LlmCost.Cli;

/// <summary>
/// The common case of <c>llmcost price</c> read straight from the line's UTF-8 bytes with a
/// <see cref="Utf8JsonReader"/>: an object with string provider/model/timestamp/tenant_id, an optional id and a
/// canonical <c>usage</c> of plain non-negative integers. It builds the same <see cref="PriceRequest"/> as
/// <see cref="CallUsageParser"/> (and validates the usage with the same <see cref="UsageValidator"/>), without a
/// JsonDocument or a string per key. Anything else — raw_usage, escapes, a duplicate key, an unknown usage key in
/// strict mode, a number that is not a plain integer, a timestamp without an explicit offset, any error — returns
/// false, and the caller takes the general path, which produces the exact answer and error messages.
/// </summary>
internal sealed class FastCallReader
{
    /// <summary>UsageCounts.MaxCount (the largest count the general path accepts).</summary>
    private const long MaxCount = 1_000_000_000_000_000;

    private static readonly JsonReaderOptions Options = new() { CommentHandling = JsonCommentHandling.Disallow };

    // The few provider/model strings of a run, kept so each line does not allocate them again.
    private readonly (byte[] Utf8, string Text)[] _strings = new (byte[], string)[16];
    private int _next;

    public readonly record struct Call(PriceRequest Request, ReadOnlyMemory<byte> Id, bool IdIsString);

    public bool TryRead(ReadOnlyMemory<byte> line, DateTimeOffset defaultTimestamp, out Call call)
    {
        call = default;
        var reader = new Utf8JsonReader(line.Span, Options);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            string? provider = null, model = null, tenant = null;
            DateTimeOffset timestamp = defaultTimestamp;
            ReadOnlyMemory<byte> id = default;
            bool idIsString = false;
            bool sawUsage = false;
            Span<long> counts = stackalloc long[10];
            int seen = 0;
            int usageSeen = 0;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }

                if (reader.TokenType != JsonTokenType.PropertyName || reader.ValueIsEscaped)
                {
                    return false;
                }

                int key = TopKey(reader.ValueSpan);
                if (key >= 0)
                {
                    if ((seen & (1 << key)) != 0)
                    {
                        return false; // a duplicate key: the general path decides what that means
                    }

                    seen |= 1 << key;
                }

                if (!reader.Read())
                {
                    return false;
                }

                switch (key)
                {
                    case 0 or 1 or 2 or 3: // provider, model, tenant_id, timestamp
                        if (reader.TokenType == JsonTokenType.Null)
                        {
                            break;
                        }

                        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped)
                        {
                            return false;
                        }

                        if (key == 3)
                        {
                            ReadOnlySpan<byte> text = reader.ValueSpan;
                            if (!HasExplicitOffset(text) || !reader.TryGetDateTimeOffset(out timestamp))
                            {
                                return false;
                            }
                        }
                        else
                        {
                            string value = key == 2 ? Encoding.UTF8.GetString(reader.ValueSpan) : Intern(reader.ValueSpan);
                            (key == 0 ? ref provider : ref key == 1 ? ref model : ref tenant) = value;
                        }

                        break;
                    case 4: // id: echoed when a string or a number
                        if (reader.TokenType is JsonTokenType.String or JsonTokenType.Number)
                        {
                            if (reader.ValueIsEscaped)
                            {
                                return false;
                            }

                            id = line.Slice((int)reader.TokenStartIndex + (reader.TokenType == JsonTokenType.String ? 1 : 0), reader.ValueSpan.Length);
                            idIsString = reader.TokenType == JsonTokenType.String;
                        }
                        else if (!reader.TrySkip())
                        {
                            return false;
                        }

                        break;
                    case 5: // usage
                        if (reader.TokenType != JsonTokenType.StartObject || !ReadUsage(ref reader, counts, out usageSeen))
                        {
                            return false;
                        }

                        sawUsage = true;
                        break;
                    case 6 or 7: // raw_usage (the normalisers' job), reported_cost_usd (written by the general path)
                        return false;
                    default:
                        if (!reader.TrySkip())
                        {
                            return false;
                        }

                        break;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read() || !sawUsage || string.IsNullOrWhiteSpace(model))
            {
                return false;
            }

            // Only the keys the line gave are set (and so "reported"), exactly as CanonicalUsageParser builds it: a
            // class that was not given is unknown, not zero, to the engine.
            var builder = new CanonicalUsage.Builder();
            for (int i = 0; i < UsageUnitsByKey.Length; i++)
            {
                if ((usageSeen & (1 << i)) != 0)
                {
                    builder.Set(UsageUnitsByKey[i], counts[i]);
                }
            }

            CanonicalUsage usage = builder.Build();
            if (UsageValidator.Validate(usage, "usage").Count > 0)
            {
                return false;
            }

            call = new Call(new PriceRequest(string.IsNullOrWhiteSpace(provider) ? null : provider, model, timestamp, usage, tenant), id, idIsString);
            return true;
        }
        catch (JsonException)
        {
            return false; // malformed: the general path reports it
        }
    }

    private static bool ReadUsage(ref Utf8JsonReader reader, scoped Span<long> counts, out int seen)
    {
        seen = 0;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return true;
            }

            if (reader.TokenType != JsonTokenType.PropertyName || reader.ValueIsEscaped)
            {
                return false;
            }

            int key = UsageKey(reader.ValueSpan);
            if (!reader.Read())
            {
                return false;
            }

            if (key < 0)
            {
                return false; // an error (strict) or a key to check for duplicates (lenient): the general path's job
            }

            if ((seen & (1 << key)) != 0 || reader.TokenType != JsonTokenType.Number
                || !reader.TryGetInt64(out long value) || value < 0 || value > MaxCount)
            {
                return false;
            }

            seen |= 1 << key;
            counts[key] = value;
        }

        return false;
    }

    /// <summary>The top-level keys the fast path reads; <see cref="TopKey"/> answers an index into this list.</summary>
    private static readonly byte[][] TopKeys = Utf8("provider", "model", "tenant_id", "timestamp", "id", "usage", "raw_usage", "reported_cost_usd");

    /// <summary>The usage keys the fast path reads; <see cref="UsageKey"/> answers an index into this list.</summary>
    private static readonly string[] UsageKeys =
    [
        "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "input_audio_tokens",
        "cache_audio_read_tokens", "output_tokens", "reasoning_tokens", "output_audio_tokens", "web_searches",
    ];

    private static readonly byte[][] UsageKeysUtf8 = Utf8(UsageKeys);

    /// <summary>The unit each fast usage key (by its index in <see cref="UsageKeys"/>) stands for.</summary>
    private static readonly UsageUnit[] UsageUnitsByKey =
    [
        .. UsageKeys.Select(key => UsageUnits.Get(CanonicalUsageParser.Aliases.TryGetValue(key, out string? unitKey) ? unitKey : key)),
    ];

    private static int TopKey(ReadOnlySpan<byte> name) => IndexOf(TopKeys, name);

    private static int UsageKey(ReadOnlySpan<byte> name) => IndexOf(UsageKeysUtf8, name);

    private static byte[][] Utf8(params string[] names) => [.. names.Select(Encoding.UTF8.GetBytes)];

    private static int IndexOf(byte[][] names, ReadOnlySpan<byte> name)
    {
        for (int i = 0; i < names.Length; i++)
        {
            if (name.SequenceEqual(names[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>"…Z" or "…+hh:mm"/"…-hh:mm": then every ISO 8601 reader agrees on the instant.</summary>
    private static bool HasExplicitOffset(ReadOnlySpan<byte> text) =>
        text.Length > 10 && (text[^1] == (byte)'Z' || (text.Length > 16 && text[^3] == (byte)':' && text[^6] is (byte)'+' or (byte)'-'));

    private string Intern(ReadOnlySpan<byte> utf8)
    {
        foreach ((byte[] bytes, string text) in _strings)
        {
            if (bytes is not null && utf8.SequenceEqual(bytes))
            {
                return text;
            }
        }

        string value = Encoding.UTF8.GetString(utf8);
        _strings[_next] = (utf8.ToArray(), value);
        _next = (_next + 1) % _strings.Length;
        return value;
    }
}
