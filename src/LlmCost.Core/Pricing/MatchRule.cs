using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmCost.Core.Pricing;

/// <summary>
/// A compiled genai-prices match tree. Every rule is applied to the LOWER-CASED, trimmed name (as genai-prices
/// does); equals / starts_with / ends_with / contains compare case-insensitively, regex is case-sensitive and
/// uses ECMAScript semantics (the data's regexes are JavaScript regexes: \d is ASCII only).
/// </summary>
public abstract class MatchRule
{
    private MatchRule()
    {
    }

    /// <param name="lowered">The name, already lower-cased (invariant) and trimmed.</param>
    public abstract bool Matches(string lowered);

    /// <summary>The rule as genai-prices JSON (for `catalog show`).</summary>
    public abstract void Describe(StringBuilder builder);

    public override string ToString()
    {
        var builder = new StringBuilder();
        Describe(builder);
        return builder.ToString();
    }

    /// <summary>Literal names this rule may accept (equals and starts_with values), to look for a callable name.</summary>
    internal virtual IEnumerable<string> LiteralNames() => [];

    public static MatchRule Equal(string value) => new EqualsRule(value.ToLowerInvariant());

    public static MatchRule Parse(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new CatalogFormatException($"{path}: a match rule must be an object");
        }

        MatchRule? rule = null;
        foreach (JsonProperty property in element.EnumerateObject())
        {
            if (rule is not null)
            {
                throw new CatalogFormatException($"{path}: a match rule has exactly one operator, found another '{property.Name}'");
            }

            string childPath = $"{path}.{property.Name}";
            rule = property.Name switch
            {
                "equals" => new EqualsRule(ReadString(property.Value, childPath).ToLowerInvariant()),
                "starts_with" => new StartsWithRule(ReadString(property.Value, childPath).ToLowerInvariant()),
                "ends_with" => new EndsWithRule(ReadString(property.Value, childPath).ToLowerInvariant()),
                "contains" => new ContainsRule(ReadString(property.Value, childPath).ToLowerInvariant()),
                "regex" => new RegexRule(ReadString(property.Value, childPath), childPath),
                "and" => new AndRule(ReadList(property.Value, childPath)),
                "or" => new OrRule(ReadList(property.Value, childPath)),
                _ => throw new CatalogFormatException($"{childPath}: unknown match operator"),
            };
        }

        return rule ?? throw new CatalogFormatException($"{path}: empty match rule");
    }

    private static string ReadString(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.String
            ? element.GetString()!
            : throw new CatalogFormatException($"{path}: expected a string");

    private static MatchRule[] ReadList(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new CatalogFormatException($"{path}: expected an array of match rules");
        }

        var rules = new MatchRule[element.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in element.EnumerateArray())
        {
            rules[i] = Parse(item, $"{path}[{i}]");
            i++;
        }

        return rules;
    }

    private static void Quote(StringBuilder builder, string op, string value) =>
        builder.Append("{\"").Append(op).Append("\":").Append(JsonSerializer.Serialize(value)).Append('}');

    private sealed class EqualsRule(string value) : MatchRule
    {
        public override bool Matches(string lowered) => string.Equals(lowered, value, StringComparison.Ordinal);

        internal override IEnumerable<string> LiteralNames() => [value];

        public override void Describe(StringBuilder builder) => Quote(builder, "equals", value);
    }

    private sealed class StartsWithRule(string value) : MatchRule
    {
        public override bool Matches(string lowered) => lowered.StartsWith(value, StringComparison.Ordinal);

        internal override IEnumerable<string> LiteralNames() => [value];

        public override void Describe(StringBuilder builder) => Quote(builder, "starts_with", value);
    }

    private sealed class EndsWithRule(string value) : MatchRule
    {
        public override bool Matches(string lowered) => lowered.EndsWith(value, StringComparison.Ordinal);

        public override void Describe(StringBuilder builder) => Quote(builder, "ends_with", value);
    }

    private sealed class ContainsRule(string value) : MatchRule
    {
        public override bool Matches(string lowered) => lowered.Contains(value, StringComparison.Ordinal);

        public override void Describe(StringBuilder builder) => Quote(builder, "contains", value);
    }

    private sealed class RegexRule : MatchRule
    {
        private readonly string _pattern;
        private readonly Regex _regex;

        public RegexRule(string pattern, string path)
        {
            _pattern = pattern;
            try
            {
                // ECMAScript: the catalog's regexes are JavaScript regexes. Compiled once at load (45 in the
                // built-in data): a resolution-cache miss then never interprets a pattern. The timeout only
                // guards against a pathological imported pattern; it must be generous, because on a loaded
                // 2-core machine a thread can be descheduled for longer than a match takes (100 ms timed out
                // under CI load), and a timeout is an error, never a "no match".
                _regex = new Regex(pattern, RegexOptions.ECMAScript | RegexOptions.Compiled, TimeSpan.FromSeconds(2));
            }
            catch (ArgumentException e)
            {
                throw new CatalogFormatException($"{path}: invalid regex '{pattern}': {e.Message}");
            }
        }

        public override bool Matches(string lowered) => _regex.IsMatch(lowered);

        public override void Describe(StringBuilder builder) => Quote(builder, "regex", _pattern);
    }

    private sealed class AndRule(MatchRule[] rules) : MatchRule
    {
        public override bool Matches(string lowered)
        {
            foreach (MatchRule rule in rules)
            {
                if (!rule.Matches(lowered))
                {
                    return false;
                }
            }

            return true;
        }

        public override void Describe(StringBuilder builder) => DescribeList(builder, "and", rules);

        internal override IEnumerable<string> LiteralNames() => rules.SelectMany(r => r.LiteralNames());
    }

    private sealed class OrRule(MatchRule[] rules) : MatchRule
    {
        public override bool Matches(string lowered)
        {
            foreach (MatchRule rule in rules)
            {
                if (rule.Matches(lowered))
                {
                    return true;
                }
            }

            return false;
        }

        public override void Describe(StringBuilder builder) => DescribeList(builder, "or", rules);

        internal override IEnumerable<string> LiteralNames() => rules.SelectMany(r => r.LiteralNames());
    }

    private static void DescribeList(StringBuilder builder, string op, MatchRule[] rules)
    {
        builder.Append("{\"").Append(op).Append("\":[");
        for (int i = 0; i < rules.Length; i++)
        {
            if (i > 0)
            {
                builder.Append(',');
            }

            rules[i].Describe(builder);
        }

        builder.Append("]}");
    }
}

/// <summary>A catalog file is malformed (not a data-quality issue: those are <see cref="CatalogIssue"/>s).</summary>
public sealed class CatalogFormatException(string message) : Exception(message);
