using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CsvHelper;
using CsvHelper.Configuration;

namespace LlmCost.Cli.Import;

/// <summary>
/// Streams an input file as candidate events, in a fixed order (so a record's ordinal is the same on every run and
/// a checkpoint can name "everything before ordinal N is done"). JSON lines are read a line at a time; a file that
/// is one JSON document (an API page saved as is) is read whole; anything else is CSV with a header row.
/// </summary>
internal sealed class ImportSource(string path, ImportFormat format, ImportContext context) : IDisposable
{
    private readonly FileStream _stream = new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);

    public long Length => _stream.Length;

    public long Position => _stream.CanSeek ? _stream.Position : 0;

    /// <summary>Source rows (lines or CSV records) read so far.</summary>
    public long RowsRead { get; private set; }

    /// <summary>Identifies the file and how it is read: a checkpoint only applies to the same input.</summary>
    public static string Fingerprint(string path, string formatName, string tenantId)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        byte[] head = new byte[Math.Min(stream.Length, 1 << 20)];
        stream.ReadExactly(head);
        byte[] hash = SHA256.HashData([.. head, .. Encoding.UTF8.GetBytes($"\u001f{formatName}\u001f{tenantId}")]);
        return Convert.ToHexStringLower(hash);
    }

    public IEnumerable<ImportRecord> Records()
    {
        int first = FirstSignificantByte();
        _stream.Position = 0;
        return first is '{' or '[' ? JsonRecords() : CsvRecords();
    }

    private int FirstSignificantByte()
    {
        int b;
        do
        {
            b = _stream.ReadByte();
        }
        while (b is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF);
        return b;
    }

    private IEnumerable<ImportRecord> JsonRecords()
    {
        var output = new List<ImportRecord>();
        using var reader = new StreamReader(_stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, 1 << 16, leaveOpen: true);
        long line = 0;
        string? text;
        while ((text = reader.ReadLine()) is not null)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            JsonDocument? document = null;
            string? error = null;
            try
            {
                document = JsonDocument.Parse(text);
            }
            catch (JsonException ex)
            {
                error = ex.Message;
            }

            if (document is null && RowsRead == 0)
            {
                // Not JSON lines: one document spread over several lines (a saved API page).
                foreach (ImportRecord record in WholeDocument())
                {
                    yield return record;
                }

                yield break;
            }

            if (document is null)
            {
                RowsRead++;
                yield return ImportRecord.Reject($"line {line}", $"not JSON: {error}");
                continue;
            }

            RowsRead++;
            output.Clear();
            using (document)
            {
                format.Map(document.RootElement, $"line {line}", context, output);
            }

            foreach (ImportRecord record in output)
            {
                yield return record;
            }
        }
    }

    private List<ImportRecord> WholeDocument()
    {
        _stream.Position = 0;
        var output = new List<ImportRecord>();
        try
        {
            using JsonDocument document = JsonDocument.Parse(_stream, new JsonDocumentOptions { AllowTrailingCommas = false });
            RowsRead++;
            format.Map(document.RootElement, "document", context, output);
        }
        catch (JsonException ex)
        {
            RowsRead++;
            output.Add(ImportRecord.Reject("document", $"not JSON lines and not one JSON document: {ex.Message}"));
        }

        return output;
    }

    private IEnumerable<ImportRecord> CsvRecords()
    {
        string? badData = null;
        var configuration = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            TrimOptions = TrimOptions.Trim,
            MissingFieldFound = null,
            HeaderValidated = null,
            BadDataFound = args => badData = args.Field.Length > 80 ? args.Field[..80] : args.Field,
        };
        using var reader = new StreamReader(_stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, 1 << 16, leaveOpen: true);
        using var csv = new CsvReader(reader, configuration);
        if (!csv.Read() || !csv.ReadHeader() || csv.HeaderRecord is not { Length: > 0 } header)
        {
            yield break;
        }

        var output = new List<ImportRecord>();
        while (csv.Read())
        {
            RowsRead++;
            string source = $"row {csv.Parser.Row.ToString(CultureInfo.InvariantCulture)}";
            if (badData is not null)
            {
                yield return ImportRecord.Reject(source, $"malformed CSV near '{badData}'");
                badData = null;
                continue;
            }

            var cells = new Dictionary<string, string>(header.Length, StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < header.Length; i++)
            {
                cells[header[i]] = csv.TryGetField(i, out string? value) ? value ?? string.Empty : string.Empty;
            }

            output.Clear();
            format.Map(new CsvRow(cells), source, context, output);
            foreach (ImportRecord record in output)
            {
                yield return record;
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}

/// <summary>The resume point of one import, written next to the input (or at --state) atomically.</summary>
internal sealed record ImportCheckpoint
{
    public int Version { get; init; } = 1;
    public required string Fingerprint { get; init; }
    public required string Format { get; init; }
    public required string TenantId { get; init; }
    public required string File { get; init; }

    /// <summary>Every candidate event with an ordinal below this was answered by the service (or rejected/skipped here).</summary>
    public long RecordsDone { get; init; }

    public bool Completed { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    public static ImportCheckpoint? Load(string path)
    {
        if (!System.IO.File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<ImportCheckpoint>(System.IO.File.ReadAllText(path), Json);
        }
        catch (JsonException ex)
        {
            throw new CliUsageException($"the checkpoint {path} is not readable ({ex.Message}); remove it or use --restart");
        }
    }

    /// <summary>Write-then-rename, so a kill mid-write leaves the previous checkpoint, never half of one.</summary>
    public void Save(string path)
    {
        string temp = path + ".tmp";
        System.IO.File.WriteAllText(temp, JsonSerializer.Serialize(this, Json));
        System.IO.File.Move(temp, path, overwrite: true);
    }
}
