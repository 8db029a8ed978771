using System.Collections.Concurrent;
using Microsoft.ML.Tokenizers;

namespace LlmCost.Core.Estimation;

/// <summary>
/// The tiktoken encodings, created once per process. Creating a <see cref="TiktokenTokenizer"/> parses a
/// vocabulary of 100k-200k entries (tens of milliseconds, megabytes), so it must never happen per request.
/// A created tokenizer is safe to use from many threads (it only reads its vocabulary; its internal cache is
/// a concurrent one).
/// </summary>
public static class TokenizerCache
{
    public const string O200kBase = "o200k_base";
    public const string Cl100kBase = "cl100k_base";

    private static readonly ConcurrentDictionary<string, Lazy<Tokenizer>> _byEncoding = new(StringComparer.Ordinal);

    /// <summary>The tokenizer for <paramref name="encoding"/> (<see cref="O200kBase"/> or <see cref="Cl100kBase"/>).</summary>
    public static Tokenizer ForEncoding(string encoding)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(encoding);
        return _byEncoding.GetOrAdd(encoding, static name => new Lazy<Tokenizer>(
            () => TiktokenTokenizer.CreateForEncoding(name), LazyThreadSafetyMode.ExecutionAndPublication)).Value;
    }

    /// <summary>
    /// The tiktoken encoding an OpenAI model uses, or null when the name is not an OpenAI model. Mirrors
    /// tiktoken's <c>model.py</c> prefixes: gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1, o3, o4, gpt-oss → o200k_base;
    /// gpt-4 (incl. turbo), gpt-3.5, text-embedding-3 / ada-002 → cl100k_base. Later gpt-N / oN models are assumed
    /// to keep o200k_base. Provider prefixes such as <c>openai/</c> or <c>azure/</c> are ignored.
    /// </summary>
    public static string? EncodingForModel(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        string name = model.Trim().ToLowerInvariant();
        int slash = name.LastIndexOf('/');
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
        }

        if (name.StartsWith("gpt-4o", StringComparison.Ordinal) || name.StartsWith("chatgpt-4o", StringComparison.Ordinal)
            || name.StartsWith("gpt-4.", StringComparison.Ordinal) || name.StartsWith("gpt-oss", StringComparison.Ordinal)
            || name.StartsWith("codex-", StringComparison.Ordinal) || name.StartsWith("computer-use", StringComparison.Ordinal))
        {
            return O200kBase;
        }

        if (name.StartsWith("gpt-4", StringComparison.Ordinal) || name.StartsWith("gpt-3.5", StringComparison.Ordinal)
            || name.StartsWith("gpt-35", StringComparison.Ordinal) || name.StartsWith("text-embedding-", StringComparison.Ordinal))
        {
            return Cl100kBase;
        }

        // gpt-5, gpt-5.1, gpt-6, ... and the o-series reasoning models (o1, o3-mini, o4-mini, ...).
        if (name.Length > 4 && name.StartsWith("gpt-", StringComparison.Ordinal) && char.IsAsciiDigit(name[4]))
        {
            return O200kBase;
        }

        if (name.Length > 1 && name[0] == 'o' && char.IsAsciiDigit(name[1]))
        {
            return O200kBase;
        }

        return null;
    }
}
