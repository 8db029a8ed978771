// Long on purpose: the canonical unit vector with its arithmetic and its wire form; every operation must treat every unit class
// alike, which is easiest to check with all of them in one place.
using System.Numerics;
using System.Text;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Usage;

/// <summary>
/// What one LLM call used: a count for any unit of the genai-prices unit lattice (<see cref="UsageUnits"/>), in
/// its nested convention (see shared/pricing/README.md). Parents include their children: <see cref="InputTokens"/>
/// counts ALL input tokens, cache reads and writes, audio, image and tool tokens included;
/// <c>cache_text_read_tokens</c> is part of both <c>cache_read_tokens</c> and <c>input_text_tokens</c>;
/// <see cref="OutputTokens"/> includes reasoning, audio, image and citation output. Every count is charged at the
/// most specific class a model prices it at.
/// </summary>
/// <remarks>
/// <para>Representation: a bit mask of the units with a non-zero count and those counts packed in unit order, so a
/// lookup is a shift and a popcount and a typical call (3-6 units) is one small array. Instances are immutable: the
/// <c>init</c> accessors and <see cref="With"/> build a new array, never write into a shared one (records copy
/// fields on <c>with</c>).</para>
/// <para>A second mask remembers which units were REPORTED (given, even as 0). Absent and 0 only differ where a
/// model prices the overlap of two reported classes that the usage does not state (e.g. cached audio when only
/// cached tokens and audio tokens are known): the engine then refuses to guess, as genai-prices does. Equality
/// compares counts only.</para>
/// <para>Counts are <see cref="long"/>: never fractional, never negative once validated (<see cref="UsageValidator"/>).
/// Providers' own conventions (Anthropic's input EXCLUDING cache tokens, Gemini's thoughts billed as output) are
/// converted into this shape by the normalisers, never here. The typed properties are the units most code needs;
/// every other unit is reached through <see cref="Get(UsageUnit)"/> and <see cref="Units"/>.</para>
/// </remarks>
[System.Text.Json.Serialization.JsonConverter(typeof(CanonicalUsageJsonConverter))]
public sealed record CanonicalUsage
{
    private static readonly long[] s_oneRequest = [1];

    private ulong _mask = 1UL << UsageUnits.Requests;
    private ulong _reported;
    private long[] _counts = s_oneRequest;

    public CanonicalUsage()
    {
    }

    private CanonicalUsage(ulong mask, ulong reported, long[] counts)
    {
        _mask = mask;
        _reported = reported;
        _counts = counts;
    }

    public long InputTokens { get => Get(UsageUnits.InputTokens); init => Set(UsageUnits.InputTokens, value); }
    public long CacheReadTokens { get => Get(UsageUnits.CacheReadTokens); init => Set(UsageUnits.CacheReadTokens, value); }
    public long CacheWriteTokens { get => Get(UsageUnits.CacheWriteTokens); init => Set(UsageUnits.CacheWriteTokens, value); }
    public long CacheWrite1hTokens { get => Get(UsageUnits.CacheWrite1hTokens); init => Set(UsageUnits.CacheWrite1hTokens, value); }
    public long InputAudioTokens { get => Get(UsageUnits.InputAudioTokens); init => Set(UsageUnits.InputAudioTokens, value); }
    public long CacheAudioReadTokens { get => Get(UsageUnits.CacheAudioReadTokens); init => Set(UsageUnits.CacheAudioReadTokens, value); }
    public long OutputTokens { get => Get(UsageUnits.OutputTokens); init => Set(UsageUnits.OutputTokens, value); }

    /// <summary>The unit <c>output_reasoning_tokens</c> (canonical alias <c>reasoning_tokens</c>).</summary>
    public long ReasoningTokens { get => Get(UsageUnits.OutputReasoningTokens); init => Set(UsageUnits.OutputReasoningTokens, value); }

    public long OutputAudioTokens { get => Get(UsageUnits.OutputAudioTokens); init => Set(UsageUnits.OutputAudioTokens, value); }
    public long WebSearches { get => Get(UsageUnits.WebSearches); init => Set(UsageUnits.WebSearches, value); }

    /// <summary>Each call is one request (for per-request fees); in totals, the number of requests summed.</summary>
    public long Requests { get => Get(UsageUnits.Requests); init => Set(UsageUnits.Requests, value); }

    /// <summary>
    /// When one call was billed as several sampling passes of the same model (Anthropic's server-side compaction):
    /// every pass, the counts of this usage being their sum. Each pass is priced on its own (its own long-context
    /// tier) and the costs added; empty for an ordinary call. Not part of equality, and not stored (the stored usage
    /// is the sum; the cost is stored with it).
    /// </summary>
    public IReadOnlyList<CanonicalUsage> Passes { get; init; } = [];

    /// <summary>One call with no usage at all (one request).</summary>
    public static CanonicalUsage Empty { get; } = new();

    /// <summary>Nothing, not even a request: the zero of <see cref="op_Addition"/>, for totals.</summary>
    public static CanonicalUsage None { get; } = new(0, 0, []);

    public long TotalTokens => InputTokens + OutputTokens;

    /// <summary>The count of <paramref name="unit"/> (0 when absent).</summary>
    public long Get(UsageUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        return Get(unit.Index);
    }

    /// <summary>The count of the unit with usage key <paramref name="usageKey"/> (0 when absent).</summary>
    public long Get(string usageKey) => Get(UsageUnits.Get(usageKey).Index);

    public long this[UsageUnit unit] => Get(unit);

    /// <summary>Whether <paramref name="unit"/> was given (possibly as 0) rather than absent.</summary>
    public bool IsReported(UsageUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        return ((ReportedMask >> unit.Index) & 1) != 0;
    }

    /// <summary>A copy with <paramref name="unit"/> set to <paramref name="count"/> (reported).</summary>
    public CanonicalUsage With(UsageUnit unit, long count)
    {
        ArgumentNullException.ThrowIfNull(unit);
        var copy = new CanonicalUsage(_mask, _reported, _counts);
        copy.Set(unit.Index, count);
        return copy;
    }

    /// <summary>The units with a non-zero count, in registry order (allocation-free enumeration).</summary>
    public UnitCounts Units => new(_mask, _counts);

    /// <summary>The non-zero units as (usage key, count), for wire formats and tests.</summary>
    public IReadOnlyDictionary<string, long> ToDictionary()
    {
        var result = new Dictionary<string, long>(BitOperations.PopCount(_mask), StringComparer.Ordinal);
        foreach ((UsageUnit unit, long count) in Units)
        {
            result[unit.UsageKey] = count;
        }

        return result;
    }

    /// <summary>Builds a usage from (unit, count) pairs; a unit given twice is summed. Requests default to 1.</summary>
    public static CanonicalUsage From(IEnumerable<KeyValuePair<UsageUnit, long>> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var builder = new Builder();
        foreach (KeyValuePair<UsageUnit, long> count in counts)
        {
            builder.Add(count.Key, count.Value);
        }

        return builder.Build();
    }

    /// <summary>Unit-wise sum (totals of several calls; requests add up too).</summary>
    public static CanonicalUsage operator +(CanonicalUsage a, CanonicalUsage b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (b._mask == 0)
        {
            return a;
        }

        if (a._mask == 0)
        {
            return b;
        }

        ulong mask = a._mask | b._mask;
        var counts = new long[BitOperations.PopCount(mask)];
        int i = 0;
        for (ulong rest = mask; rest != 0; rest &= rest - 1)
        {
            int index = BitOperations.TrailingZeroCount(rest);
            counts[i++] = checked(a.Get(index) + b.Get(index));
        }

        return Compact(mask, a._reported | b._reported, counts);
    }

    public bool Equals(CanonicalUsage? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        return other is not null && _mask == other._mask && _counts.AsSpan().SequenceEqual(other._counts);
    }

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(_mask);
        foreach (long count in _counts)
        {
            hash.Add(count);
        }

        return hash.ToHashCode();
    }

    /// <summary>Units with a non-zero count (bit = unit index).</summary>
    internal ulong NonZeroMask => _mask;

    /// <summary>Units given explicitly, as 0 or not.</summary>
    internal ulong ReportedMask => _reported | _mask;

    /// <summary>The hot-path lookup: a shift and a popcount.</summary>
    internal long Get(int index)
    {
        ulong bit = 1UL << index;
        return (_mask & bit) == 0 ? 0 : _counts[BitOperations.PopCount(_mask & (bit - 1))];
    }

    /// <summary>True when some count is negative (never after validation; the engine checks it anyway).</summary>
    internal bool HasNegative()
    {
        foreach (long count in _counts)
        {
            if (count < 0)
            {
                return true;
            }
        }

        return false;
    }

    private bool PrintMembers(StringBuilder builder)
    {
        bool first = true;
        foreach ((UsageUnit unit, long count) in Units)
        {
            builder.Append(first ? "" : ", ").Append(unit.UsageKey).Append(" = ").Append(count);
            first = false;
        }

        return true;
    }

    /// <summary>Sets one count in THIS instance (only ever called on a fresh instance: init accessors, With, builders).</summary>
    private void Set(int index, long value)
    {
        ulong bit = 1UL << index;
        _reported |= bit;
        int position = BitOperations.PopCount(_mask & (bit - 1));
        bool present = (_mask & bit) != 0;
        if (present && value != 0)
        {
            long[] copy = (long[])_counts.Clone();
            copy[position] = value;
            _counts = copy;
        }
        else if (present)
        {
            var copy = new long[_counts.Length - 1];
            _counts.AsSpan(0, position).CopyTo(copy);
            _counts.AsSpan(position + 1).CopyTo(copy.AsSpan(position));
            _counts = copy;
            _mask &= ~bit;
        }
        else if (value != 0)
        {
            var copy = new long[_counts.Length + 1];
            _counts.AsSpan(0, position).CopyTo(copy);
            copy[position] = value;
            _counts.AsSpan(position).CopyTo(copy.AsSpan(position + 1));
            _counts = copy;
            _mask |= bit;
        }
    }

    private static CanonicalUsage Compact(ulong mask, ulong reported, long[] counts) => new(mask, reported, counts);

    /// <summary>
    /// Accumulates counts unit by unit (normalisers, storage codecs) and builds one immutable usage. Requests start
    /// at 1 (one call) unless set.
    /// </summary>
    public sealed class Builder
    {
        private readonly long[] _values = new long[UsageUnits.Count];
        private ulong _reported;

        public Builder()
        {
            _values[UsageUnits.Requests] = 1;
        }

        public long this[UsageUnit unit] => _values[unit.Index];

        /// <summary>Units given so far (as 0 or not).</summary>
        public bool IsReported(UsageUnit unit) => ((_reported >> unit.Index) & 1) != 0;

        public Builder Set(UsageUnit unit, long count)
        {
            ArgumentNullException.ThrowIfNull(unit);
            _values[unit.Index] = count;
            _reported |= 1UL << unit.Index;
            return this;
        }

        /// <summary>Adds to a unit (several provider fields feeding one unit, as genai-prices' extractors sum them).</summary>
        public Builder Add(UsageUnit unit, long count)
        {
            ArgumentNullException.ThrowIfNull(unit);
            if (unit.Index == UsageUnits.Requests && !IsReported(unit))
            {
                // The default of one request is replaced by the first count given, not added to.
                _values[unit.Index] = 0;
            }

            _values[unit.Index] = checked(_values[unit.Index] + count);
            _reported |= 1UL << unit.Index;
            return this;
        }

        public Builder Set(string usageKey, long count) => Set(UsageUnits.Get(usageKey), count);

        public Builder Add(string usageKey, long count) => Add(UsageUnits.Get(usageKey), count);

        public CanonicalUsage Build()
        {
            ulong mask = 0;
            int nonZero = 0;
            for (int i = 0; i < _values.Length; i++)
            {
                if (_values[i] != 0)
                {
                    mask |= 1UL << i;
                    nonZero++;
                }
            }

            var counts = new long[nonZero];
            int next = 0;
            for (int i = 0; i < _values.Length; i++)
            {
                if (_values[i] != 0)
                {
                    counts[next++] = _values[i];
                }
            }

            return Compact(mask, _reported & ~(1UL << UsageUnits.Requests), counts);
        }
    }
}

/// <summary>Allocation-free enumeration of a usage's non-zero (unit, count) pairs in registry order.</summary>
public readonly struct UnitCounts
{
    private readonly ulong _mask;
    private readonly long[] _counts;

    internal UnitCounts(ulong mask, long[] counts)
    {
        _mask = mask;
        _counts = counts;
    }

    public int Count => BitOperations.PopCount(_mask);

    public Enumerator GetEnumerator() => new(_mask, _counts);

    public struct Enumerator
    {
        private readonly long[] _counts;
        private ulong _rest;
        private int _position;

        internal Enumerator(ulong mask, long[] counts)
        {
            _rest = mask;
            _counts = counts;
            _position = -1;
            Current = default;
        }

        public KeyValuePair<UsageUnit, long> Current { get; private set; }

        public bool MoveNext()
        {
            if (_rest == 0)
            {
                return false;
            }

            int index = BitOperations.TrailingZeroCount(_rest);
            _rest &= _rest - 1;
            _position++;
            Current = new KeyValuePair<UsageUnit, long>(UsageUnits.Get(index), _counts[_position]);
            return true;
        }
    }
}

/// <summary>
/// JSON form of a usage wherever one is serialised: an object of the non-zero units by usage key
/// (<c>{"input_tokens":1200,"output_image_tokens":1290,"requests":1}</c>). A key this version does not
/// know is skipped on reading (a newer writer's unit), never misread. <see cref="CanonicalUsage.Passes"/> is not
/// part of it (the sum is).
/// </summary>
public sealed class CanonicalUsageJsonConverter : System.Text.Json.Serialization.JsonConverter<CanonicalUsage>
{
    public override CanonicalUsage Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options)
    {
        if (reader.TokenType != System.Text.Json.JsonTokenType.StartObject)
        {
            throw new System.Text.Json.JsonException("a usage must be a JSON object of unit counts");
        }

        var builder = new CanonicalUsage.Builder();
        while (reader.Read() && reader.TokenType != System.Text.Json.JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            reader.Read();
            if (UsageUnits.TryGetByUsageKey(key, out UsageUnit unit))
            {
                builder.Set(unit, reader.GetInt64());
            }
            else
            {
                reader.Skip();
            }
        }

        return builder.Build();
    }

    public override void Write(System.Text.Json.Utf8JsonWriter writer, CanonicalUsage value, System.Text.Json.JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach ((UsageUnit unit, long count) in value.Units)
        {
            writer.WriteNumber(unit.UsageKey, count);
        }

        if (value.Requests == 0)
        {
            // Totals carry no request; without this the reader's default of one would come back.
            writer.WriteNumber("requests", 0);
        }

        writer.WriteEndObject();
    }
}
