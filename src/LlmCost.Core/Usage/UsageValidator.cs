using System.Numerics;
using LlmCost.Core.Pricing;

namespace LlmCost.Core.Usage;

/// <summary>
/// Checks a <see cref="CanonicalUsage"/> against the unit lattice (genai-prices semantics, see
/// shared/pricing/README.md). A usage that breaks it has no meaningful price: the "own" count of some class
/// (e.g. uncached text input = input - cache reads - cache writes - uncached audio ...) would be negative, and a
/// pricer that clamped it to zero would silently undercharge. So it is rejected, naming the field.
/// </summary>
/// <remarks>
/// Rules, all derived from <see cref="UsageUnits"/> (no unit is special-cased):
/// <list type="bullet">
/// <item>every count is 0..<see cref="UsageCounts.MaxCount"/>; <c>requests</c> at least 1;</item>
/// <item>a part needs its whole: every unit that contains a non-zero unit (its dimensions are a subset) must be
/// given and be at least as large (<c>cache_text_read_tokens</c> needs <c>cache_read_tokens</c> and
/// <c>input_text_tokens</c> and <c>input_tokens</c>);</item>
/// <item>mutually exclusive parts fit in their whole: the children of a unit along one dimension (cache reads,
/// cache writes and tool tokens of the input; its text, audio, image and video; the 5-minute and 1-hour writes)
/// add up to at most the unit;</item>
/// <item>when every overlap of the non-zero units is given (the join of any two of them is given, e.g.
/// <c>cache_audio_read_tokens</c> for cache reads and input audio), the counts describe the tokens exactly: each
/// unit's own count (its count minus its parts' own counts, most specific first) must be non-negative. When an
/// overlap is NOT given it is unknown, not 0 (OpenAI reports cached tokens and audio tokens, not cached audio), so
/// only the two rules above apply; a model that prices such an overlap is then unpriced with the reason, as
/// genai-prices refuses it too.</item>
/// </list>
/// </remarks>
public static class UsageValidator
{
    /// <summary>For each unit (registry index), the indices of its strict descendants.</summary>
    private static readonly int[][] s_descendants = [.. UsageUnits.All.Select(u => Bits(u.DescendantMask))];

    /// <summary>
    /// For each unit, its children grouped by the one dimension they add (e.g. input_tokens → [cache_read, cache_write,
    /// input_tool] by token_type, [input_text, input_audio, input_image, input_video] by modality): mutually exclusive.
    /// </summary>
    private static readonly UsageUnit[][][] s_axes = [.. UsageUnits.All.Select(Axes)];

    private static UsageUnit[][] Axes(UsageUnit whole) =>
    [
        .. UsageUnits.All
            .Where(c => (whole.DescendantMask & c.Bit) != 0 && c.Specificity == whole.Specificity + 1)
            .GroupBy(c => c.Dimensions.Keys.Single(k => !whole.Dimensions.ContainsKey(k)), StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => g.ToArray()),
    ];

    /// <summary>Whether the overlap (join) of every two non-zero, unrelated, compatible units is given.</summary>
    private static bool OverlapsGiven(ulong positive, ulong reported)
    {
        for (ulong a = positive; a != 0; a &= a - 1)
        {
            UsageUnit first = UsageUnits.Get(BitOperations.TrailingZeroCount(a));
            for (ulong b = a & (a - 1); b != 0; b &= b - 1)
            {
                UsageUnit second = UsageUnits.Get(BitOperations.TrailingZeroCount(b));
                bool related = (first.AncestorMask & second.Bit) != 0 || (second.AncestorMask & first.Bit) != 0;
                if (!related && UsageUnits.AreCompatible(first, second)
                    && (UsageUnits.JoinOf(first, second) is not { } join || (reported & join.Bit) == 0))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Returns every rule <paramref name="usage"/> breaks; empty when it is valid.</summary>
    /// <param name="fieldPrefix">Prefix of field names in errors, e.g. <c>usage</c> or <c>raw_usage</c>.</param>
    public static IReadOnlyList<FieldError> Validate(CanonicalUsage usage, string fieldPrefix = "usage") =>
        Validate(usage, fieldPrefix, null);

    /// <param name="names">The key each unit was given under (unit index → key), so an error names what the caller
    /// wrote (<c>reasoning_tokens</c> or <c>output_reasoning_tokens</c>); null = the usage key.</param>
    internal static IReadOnlyList<FieldError> Validate(CanonicalUsage usage, string fieldPrefix, IReadOnlyDictionary<int, string>? names)
    {
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(fieldPrefix);
        var errors = new List<FieldError>();
        foreach ((UsageUnit unit, long count) in usage.Units)
        {
            if (unit.Index == UsageUnits.Requests)
            {
                continue;
            }

            if (count < 0)
            {
                errors.Add(new FieldError(Field(fieldPrefix, unit, names), $"must not be negative, got {count}"));
            }
            else if (count > UsageCounts.MaxCount)
            {
                errors.Add(new FieldError(Field(fieldPrefix, unit, names), $"is too large ({count}); the maximum is {UsageCounts.MaxCount}"));
            }
        }

        if (usage.Requests < 1 || usage.Requests > UsageCounts.MaxCount)
        {
            errors.Add(new FieldError($"{fieldPrefix}.requests", $"must be at least 1, got {usage.Requests}"));
        }

        if (errors.Count > 0)
        {
            // Subset rules on out-of-range numbers would only repeat the same problem in other words.
            return errors;
        }

        ulong positive = usage.NonZeroMask & ~(1UL << UsageUnits.Requests);
        ulong reported = usage.ReportedMask;
        var blamed = new HashSet<int>();

        // A part needs its whole, and fits in it.
        for (ulong rest = positive; rest != 0; rest &= rest - 1)
        {
            UsageUnit part = UsageUnits.Get(BitOperations.TrailingZeroCount(rest));
            long value = usage.Get(part.Index);
            foreach (UsageUnit whole in UsageUnits.MostSpecificFirst)
            {
                if ((part.AncestorMask & whole.Bit) == 0)
                {
                    continue;
                }

                if ((reported & whole.Bit) == 0)
                {
                    if (blamed.Add(part.Index))
                    {
                        errors.Add(new FieldError(Field(fieldPrefix, part, names),
                            $"{part.UsageKey} ({value}) is part of {whole.UsageKey}, which is missing: give {whole.UsageKey} too " +
                            "(a class includes all of its parts)"));
                    }

                    break;
                }

                long total = usage.Get(whole.Index);
                if (total < value)
                {
                    if (blamed.Add(part.Index))
                    {
                        errors.Add(new FieldError(Field(fieldPrefix, part, names),
                            $"{part.UsageKey} ({value}) exceeds {whole.UsageKey} ({total}), of which it is a part"));
                    }

                    break;
                }
            }
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        // Mutually exclusive parts (one more dimension, different values) fit in their whole.
        for (ulong rest = reported & ~(1UL << UsageUnits.Requests); rest != 0; rest &= rest - 1)
        {
            UsageUnit whole = UsageUnits.Get(BitOperations.TrailingZeroCount(rest));
            long total = usage.Get(whole.Index);
            foreach (UsageUnit[] axis in s_axes[whole.Index])
            {
                long sum = 0;
                UsageUnit? last = null;
                foreach (UsageUnit part in axis)
                {
                    long value = usage.Get(part.Index);
                    if (value > 0)
                    {
                        sum += value;
                        last = part;
                    }
                }

                if (sum > total && last is not null && blamed.Add(last.Index))
                {
                    string parts = string.Join(" + ", axis.Where(p => usage.Get(p.Index) > 0).Select(p => $"{p.UsageKey} ({usage.Get(p.Index)})"));
                    errors.Add(new FieldError(Field(fieldPrefix, last, names),
                        $"{parts} exceed {whole.UsageKey} ({total}): they are separate parts of it, so {whole.UsageKey} must include all of them"));
                }
            }
        }

        if (errors.Count > 0 || !OverlapsGiven(positive, reported))
        {
            return errors;
        }

        // Every overlap is known: the counts determine each unit's own count exactly, and none may be negative.
        ulong relevant = 0;
        for (ulong rest = positive; rest != 0; rest &= rest - 1)
        {
            UsageUnit unit = UsageUnits.Get(BitOperations.TrailingZeroCount(rest));
            relevant |= unit.Bit | unit.AncestorMask;
        }

        Span<long> own = stackalloc long[UsageUnits.Count];
        foreach (UsageUnit unit in UsageUnits.MostSpecificFirst)
        {
            if ((relevant & unit.Bit) == 0 || unit.Index == UsageUnits.Requests)
            {
                continue;
            }

            long value = usage.Get(unit.Index);
            long parts = 0;
            foreach (int descendant in s_descendants[unit.Index])
            {
                parts += own[descendant];
            }

            own[unit.Index] = value - parts;
            if (value - parts < 0)
            {
                FieldError error = Explain(usage, unit, value, fieldPrefix, names);
                if (errors.All(e => e.Field != error.Field))
                {
                    errors.Add(error);
                }
            }
        }

        return errors;
    }

    /// <summary>Validates and wraps: the usage when valid, its errors otherwise.</summary>
    public static UsageParseResult ToResult(CanonicalUsage usage, UsageShape shape, string fieldPrefix)
    {
        IReadOnlyList<FieldError> errors = Validate(usage, fieldPrefix);
        return errors.Count == 0 ? UsageParseResult.Success(usage, shape) : UsageParseResult.Failure(errors, shape);
    }

    /// <summary>Names the part that does not fit: a single descendant larger than the unit, else the sum of the parts.</summary>
    private static FieldError Explain(CanonicalUsage usage, UsageUnit unit, long value, string prefix, IReadOnlyDictionary<int, string>? names)
    {
        UsageUnit? largest = null;
        long largestValue = 0;
        var parts = new List<UsageUnit>();
        foreach (int index in s_descendants[unit.Index])
        {
            long part = usage.Get(index);
            if (part <= 0)
            {
                continue;
            }

            UsageUnit descendant = UsageUnits.Get(index);
            // Only the outermost parts add up: a part of a part is already counted in it.
            if ((descendant.AncestorMask & unit.DescendantMask & usage.NonZeroMask) == 0)
            {
                parts.Add(descendant);
            }

            if (part > value && (largest is null || part > largestValue))
            {
                largest = descendant;
                largestValue = part;
            }
        }

        string whole = value == 0 && !usage.IsReported(unit) ? $"{unit.UsageKey} (absent, so 0)" : $"{unit.UsageKey} ({value})";
        if (largest is not null)
        {
            return new FieldError(Field(prefix, largest, names),
                $"{largest.UsageKey} ({largestValue}) exceeds {whole}, of which it is a part");
        }

        UsageUnit blamed = parts.Count > 0 ? parts[^1] : unit;
        string sum = string.Join(" + ", parts.Select(p => $"{p.UsageKey} ({usage.Get(p)})"));
        return new FieldError(Field(prefix, blamed, names),
            $"{sum} exceed {whole}: {unit.UsageKey} must include all of them, and classes whose overlap is not given " +
            "are taken as disjoint (give the overlap's own key if they share tokens)");
    }

    private static string Field(string prefix, UsageUnit unit, IReadOnlyDictionary<int, string>? names) =>
        names is not null && names.TryGetValue(unit.Index, out string? name) ? $"{prefix}.{name}"
        : $"{prefix}.{(unit.Index == UsageUnits.OutputReasoningTokens ? CanonicalUsageParser.ReasoningTokens : unit.UsageKey)}";

    private static int[] Bits(ulong mask)
    {
        var bits = new List<int>();
        for (; mask != 0; mask &= mask - 1)
        {
            bits.Add(BitOperations.TrailingZeroCount(mask));
        }

        return [.. bits];
    }
}
