using System.Globalization;
using System.Text;
using LlmCost.Core.Recording;

namespace LlmCost.Storage;

/// <summary>
/// Builds and checks every PartitionKey / RowKey. Ids are checked (never rewritten) by
/// <see cref="RecordKeys"/>; free text that must become part of a key (provider and model names such as
/// "meta-llama/Llama-3") is escaped reversibly with <see cref="Escape"/>.
/// </summary>
public static class StorageKeys
{
    /// <summary>Table Storage's key limit (characters).</summary>
    public const int MaxKeyLength = 1024;

    public const string DayFormat = "yyyyMMdd";

    /// <summary>The event partition: <c>{tenant}|{user}|{yyyyMMdd}</c> of the event's UTC day.</summary>
    public static string UserDayPartition(string tenantId, string userId, DateOnly utcDay)
    {
        EnsureId(tenantId, nameof(tenantId));
        EnsureId(userId, nameof(userId));
        return $"{tenantId}|{userId}|{Day(utcDay)}";
    }

    public static string UserDayPartition(string tenantId, string userId, DateTimeOffset timestamp) =>
        UserDayPartition(tenantId, userId, DateOnly.FromDateTime(timestamp.UtcDateTime));

    /// <summary>Splits a <see cref="UserDayPartition(string,string,DateOnly)"/> key; false for any other shape.</summary>
    public static bool TryParseUserDayPartition(string partitionKey, out string tenantId, out string userId, out DateOnly day)
    {
        tenantId = userId = string.Empty;
        day = default;
        string[] parts = partitionKey.Split(RecordKeys.Separator);
        if (parts.Length != 3 || !TryParseDay(parts[2], out day))
        {
            return false;
        }

        tenantId = parts[0];
        userId = parts[1];
        return true;
    }

    public static string Day(DateOnly day) => day.ToString(DayFormat, CultureInfo.InvariantCulture);

    public static bool TryParseDay(string text, out DateOnly day) =>
        DateOnly.TryParseExact(text, DayFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out day);

    /// <summary>Joins already-valid or escaped parts with '|' and checks the result is a legal key.</summary>
    public static string Compose(params string[] parts)
    {
        string key = string.Join(RecordKeys.Separator, parts);
        EnsureKey(key, nameof(parts));
        return key;
    }

    /// <summary>Throws when <paramref name="id"/> is not a valid id (a bug: callers validate input first).</summary>
    public static void EnsureId(string id, string parameterName)
    {
        string? problem = RecordKeys.Problem(id);
        if (problem is not null)
        {
            throw new ArgumentException($"{parameterName} {problem}", parameterName);
        }
    }

    public static void EnsureKey(string key, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length > MaxKeyLength)
        {
            throw new ArgumentException($"key longer than {MaxKeyLength} characters", parameterName);
        }

        foreach (char c in key)
        {
            if (RecordKeys.IsForbiddenKeyChar(c))
            {
                throw new ArgumentException($"key contains forbidden character U+{(int)c:X4}", parameterName);
            }
        }
    }

    /// <summary>
    /// Reversible escaping of free text for use inside a key: forbidden characters, '|', '%' and '~' become
    /// %XX (UTF-8 bytes), everything else is kept, so keys stay readable and sort like the text.
    /// </summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        bool clean = true;
        foreach (char c in text)
        {
            if (NeedsEscape(c))
            {
                clean = false;
                break;
            }
        }

        if (clean)
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 8);
        Span<byte> buffer = stackalloc byte[4];
        foreach (Rune rune in text.EnumerateRunes())
        {
            if (rune.IsBmp && NeedsEscape((char)rune.Value))
            {
                int written = rune.EncodeToUtf8(buffer);
                for (int i = 0; i < written; i++)
                {
                    builder.Append('%').Append(buffer[i].ToString("X2", CultureInfo.InvariantCulture));
                }
            }
            else
            {
                builder.Append(rune.ToString());
            }
        }

        return builder.ToString();
    }

    public static string Unescape(string escaped)
    {
        ArgumentNullException.ThrowIfNull(escaped);
        return escaped.Contains('%', StringComparison.Ordinal) ? Uri.UnescapeDataString(escaped) : escaped;
    }

    private static bool NeedsEscape(char c) =>
        RecordKeys.IsForbiddenKeyChar(c) || c is RecordKeys.Separator or '%' or RecordKeys.ReservedRowPrefix;
}
