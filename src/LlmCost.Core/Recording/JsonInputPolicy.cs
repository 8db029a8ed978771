using System.Text;
using System.Text.Json;

namespace LlmCost.Core.Recording;

/// <summary>
/// The one JSON reading policy for every request body. A body is refused (with the path of the offending
/// member) when it is not JSON, nests deeper than <see cref="MaxDepth"/>, repeats a key in any object at any
/// depth, or holds a string that is not valid Unicode (a lone UTF-16 surrogate escape such as <c>"\ud800"</c>, or
/// invalid UTF-8). Duplicates fail closed instead of "last one wins": <c>{"role":"reader","role":"admin"}</c>
/// must never mean admin, and a repeated <c>prompt_tokens</c> must never price only one of them. Keys are compared
/// ignoring case because bodies are bound case-insensitively (<c>"role"</c> and <c>"Role"</c> are the same field).
/// </summary>
public static class JsonInputPolicy
{
    /// <summary>Deepest accepted nesting (objects and arrays).</summary>
    public const int MaxDepth = 32;

    /// <summary>Options for parsing a body that <see cref="Check"/> accepted (same depth, duplicates refused).</summary>
    public static JsonDocumentOptions DocumentOptions => new() { MaxDepth = MaxDepth, AllowDuplicateProperties = false };

    /// <summary>Null when <paramref name="utf8"/> is acceptable JSON; otherwise the first problem, naming its field.</summary>
    public static FieldError? Check(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions
        {
            MaxDepth = MaxDepth,
            CommentHandling = JsonCommentHandling.Disallow,
            AllowTrailingCommas = false,
        });
        var frames = new List<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        StartValue(frames);
                        frames.Add(new Frame(isObject: true));
                        break;
                    case JsonTokenType.StartArray:
                        StartValue(frames);
                        frames.Add(new Frame(isObject: false));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        frames.RemoveAt(frames.Count - 1);
                        break;
                    case JsonTokenType.PropertyName:
                        Frame frame = frames[^1];
                        if (!TryGetString(ref reader, out string? name))
                        {
                            return new FieldError(Path(frames, pending: null), "has a key that is not valid Unicode (a lone surrogate or invalid UTF-8)");
                        }

                        if (!frame.Names!.Add(name))
                        {
                            return new FieldError(Path(frames, pending: name), "appears more than once (duplicate key; keys are compared ignoring case)");
                        }

                        frame.Property = name;
                        break;
                    case JsonTokenType.String:
                        StartValue(frames);
                        if (!TryGetString(ref reader, out _))
                        {
                            return new FieldError(Path(frames, pending: null), "is not valid Unicode (a lone surrogate or invalid UTF-8)");
                        }

                        break;
                    default:
                        StartValue(frames);
                        break;
                }
            }
        }
        catch (JsonException ex)
        {
            return new FieldError("body", ex.Message.Contains("depth", StringComparison.OrdinalIgnoreCase)
                ? $"nests deeper than {MaxDepth} levels"
                : $"is not valid JSON (line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1})");
        }

        return null;
    }

    /// <summary>
    /// A field name from a System.Text.Json path (<c>$.events[1].usage</c> → <c>events[1].usage</c>,
    /// <c>$['odd key']</c> → <c>odd key</c>); "body" for the root.
    /// </summary>
    public static string FieldFromPath(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath) || jsonPath == "$")
        {
            return "body";
        }

        var field = new StringBuilder(jsonPath.Length);
        int i = jsonPath[0] == '$' ? 1 : 0;
        while (i < jsonPath.Length)
        {
            char c = jsonPath[i];
            if (c == '.')
            {
                if (field.Length > 0)
                {
                    field.Append('.');
                }

                i++;
            }
            else if (c == '[' && i + 1 < jsonPath.Length && jsonPath[i + 1] == '\'')
            {
                int end = jsonPath.IndexOf("']", i + 2, StringComparison.Ordinal);
                end = end < 0 ? jsonPath.Length : end;
                if (field.Length > 0)
                {
                    field.Append('.');
                }

                field.Append(jsonPath, i + 2, end - (i + 2));
                i = Math.Min(jsonPath.Length, end + 2);
            }
            else
            {
                field.Append(c);
                i++;
            }
        }

        return field.Length == 0 ? "body" : field.ToString();
    }

    private static bool TryGetString(ref Utf8JsonReader reader, out string value)
    {
        try
        {
            value = reader.GetString()!;
            return true;
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json refuses to transcode lone surrogates and invalid UTF-8: the text has no meaning.
            value = string.Empty;
            return false;
        }
    }

    private static void StartValue(List<Frame> frames)
    {
        if (frames.Count > 0 && !frames[^1].IsObject)
        {
            frames[^1].Index++;
        }
    }

    private static string Path(List<Frame> frames, string? pending)
    {
        var path = new StringBuilder();
        // The innermost frame is the container of the member being reported; outer frames name where it sits.
        for (int i = 0; i < frames.Count; i++)
        {
            Frame frame = frames[i];
            bool innermost = i == frames.Count - 1;
            if (frame.IsObject)
            {
                string? name = innermost && pending is not null ? pending : frame.Property;
                if (name is null)
                {
                    continue;
                }

                if (path.Length > 0)
                {
                    path.Append('.');
                }

                path.Append(name);
            }
            else if (frame.Index >= 0)
            {
                path.Append('[').Append(frame.Index).Append(']');
            }
        }

        return path.Length == 0 ? "body" : path.ToString();
    }

    private sealed class Frame(bool isObject)
    {
        public bool IsObject { get; } = isObject;

        public HashSet<string>? Names { get; } = isObject ? new HashSet<string>(StringComparer.OrdinalIgnoreCase) : null;

        public string? Property { get; set; }

        public int Index { get; set; } = -1;
    }
}
