using System.Text.Json;

namespace LlmCost.Core;

/// <summary>
/// One JSON object as UTF-8 bytes, written property by property (alert bodies, archive lines): the stream, the
/// writer's flush before the bytes are taken and the object's braces live here, the fields at the caller.
/// </summary>
internal static class JsonBytes
{
    public static byte[] Object(Action<Utf8JsonWriter> writeProperties)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            writeProperties(json);
            json.WriteEndObject();
        }

        return stream.ToArray();
    }
}
