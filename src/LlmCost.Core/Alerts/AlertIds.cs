using System.Security.Cryptography;
using System.Text;

namespace LlmCost.Core.Alerts;

/// <summary>
/// Deterministic alert ids: the same facts (kind, tenant, scope, window…) always give the same id, so a rerun of a
/// detector re-raises the SAME alert and every later stage de-duplicates on it. Safe as a Table key.
/// </summary>
public static class AlertIds
{
    public static string For(string kind, params string[] parts)
    {
        ArgumentException.ThrowIfNullOrEmpty(kind);
        ArgumentNullException.ThrowIfNull(parts);
        // Length-prefixed so ("a|b","c") and ("a","b|c") can never collide.
        var text = new StringBuilder(kind);
        foreach (var part in parts)
        {
            text.Append('\u001f').Append(part.Length).Append(':').Append(part);
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        return kind + "-" + Convert.ToHexStringLower(hash, 0, 16);
    }
}
