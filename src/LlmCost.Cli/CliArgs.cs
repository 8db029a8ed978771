namespace LlmCost.Cli;

/// <summary>
/// A small argument parser: positionals, <c>--name value</c>, <c>--name=value</c> and boolean <c>--flag</c>.
/// (System.CommandLine is not in the package source here; this is all the CLI needs.)
/// </summary>
internal sealed class CliArgs
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private CliArgs(List<string> positionals) => Positionals = positionals;

    public List<string> Positionals { get; }

    /// <summary>Parses <paramref name="args"/>; <paramref name="flags"/> are the options that take no value.</summary>
    public static CliArgs Parse(IEnumerable<string> args, params string[] flags)
    {
        var positionals = new List<string>();
        var result = new CliArgs(positionals);
        using IEnumerator<string> e = args.GetEnumerator();
        bool onlyPositionals = false;
        while (e.MoveNext())
        {
            string arg = e.Current;
            if (onlyPositionals || !arg.StartsWith("--", StringComparison.Ordinal) || arg == "-")
            {
                positionals.Add(arg);
                continue;
            }

            if (arg == "--")
            {
                onlyPositionals = true;
                continue;
            }

            string name = arg[2..];
            int eq = name.IndexOf('=');
            if (eq >= 0)
            {
                result._options[name[..eq]] = name[(eq + 1)..];
            }
            else if (flags.Contains(name))
            {
                result._options[name] = null;
            }
            else
            {
                result._options[name] = e.MoveNext() ? e.Current : throw new CliUsageException($"--{name} needs a value");
            }
        }

        return result;
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        return _options.ContainsKey(name);
    }

    public string? Option(string name)
    {
        _used.Add(name);
        return _options.TryGetValue(name, out string? value) ? value : null;
    }

    public int IntOption(string name, int defaultValue, int min, int max)
    {
        string? text = Option(name);
        if (text is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value)
            || value < min || value > max)
        {
            throw new CliUsageException($"--{name} must be an integer between {min} and {max}, got '{text}'");
        }

        return value;
    }

    public double DoubleOption(string name, double defaultValue, double min, double max)
    {
        string? text = Option(name);
        if (text is null)
        {
            return defaultValue;
        }

        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value)
            || !(value >= min && value <= max))
        {
            throw new CliUsageException($"--{name} must be a number between {min} and {max}, got '{text}'");
        }

        return value;
    }

    /// <summary>Fails on options nobody asked for (a typo like <c>--provder</c> must not be silently ignored).</summary>
    public void EnsureAllUsed()
    {
        string? unknown = _options.Keys.FirstOrDefault(k => !_used.Contains(k));
        if (unknown is not null)
        {
            throw new CliUsageException($"unknown option --{unknown}");
        }
    }
}

/// <summary>A mistake in the command line: reported with the usage text and exit code 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
