namespace LlmCost.Core.Recording;

/// <summary>
/// The one rule for identifiers that end up in storage keys (tenant, user, team, event, key ids). Table Storage
/// forbids <c>/ \ # ?</c> and control characters (U+0000–U+001F, U+007F–U+009F) in PartitionKey/RowKey, and
/// keys are at most 1 KiB; <c>|</c> is our own separator in composite keys (tenant|user|day), and a leading
/// <c>~</c> is reserved for the summary rows that share a partition with the events. Rejecting (not rewriting)
/// such ids keeps them round-trippable: what a client sends is what it can query. Ids made only of dots (".",
/// "..") are refused too: ids become blob path segments (reports, archives), and URL normalisation collapses dot
/// segments after any prefix check, so tenant "." could reach another tenant's files.
/// </summary>
public static class RecordKeys
{
    /// <summary>Longest accepted id; three ids plus a day stay far below the 1 KiB key limit.</summary>
    public const int MaxIdLength = 128;

    /// <summary>Composite-key separator: never allowed inside an id.</summary>
    public const char Separator = '|';

    /// <summary>Row keys starting with this character are reserved for non-event rows in an event partition.</summary>
    public const char ReservedRowPrefix = '~';

    /// <summary>Returns why <paramref name="value"/> cannot be an id, or null when it can.</summary>
    public static string? Problem(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "is required";
        }

        if (value.Length > MaxIdLength)
        {
            return $"must be at most {MaxIdLength} characters";
        }

        foreach (char c in value)
        {
            if (IsForbiddenKeyChar(c))
            {
                return $"contains a character not allowed in ids (U+{(int)c:X4}); '/', '\\', '#', '?', control characters are not allowed";
            }

            if (c == Separator)
            {
                return "must not contain '|'";
            }
        }

        if (value.Trim().Length != value.Length)
        {
            return "must not start or end with whitespace";
        }

        if (value.AsSpan().IndexOfAnyExcept('.') < 0)
        {
            return "must not be made only of dots ('.', '..' are path segments)";
        }

        return null;
    }

    /// <summary>Like <see cref="Problem"/>, plus the reserved leading '~' of summary rows.</summary>
    public static string? EventIdProblem(string? value)
    {
        string? problem = Problem(value);
        if (problem is not null)
        {
            return problem;
        }

        return value![0] == ReservedRowPrefix ? "must not start with '~' (reserved)" : null;
    }

    /// <summary>Characters Table Storage does not allow in PartitionKey or RowKey.</summary>
    public static bool IsForbiddenKeyChar(char c) =>
        c is '/' or '\\' or '#' or '?' || c <= '\u001F' || (c >= '\u007F' && c <= '\u009F');
}
