using System.Buffers;
using System.Text.Json;

namespace LlmCost.Cli;

/// <summary>
/// Writes JSON lines to a stream through one reusable buffer. Output is pushed to the stream when the buffer
/// passes 64 KiB or when the caller says the input has gone quiet (<see cref="FlushAsync"/>), so a bulk run writes
/// in large blocks while an interactive one answers each line at once. Memory stays bounded by the buffer.
/// </summary>
internal sealed class JsonLineWriter : IAsyncDisposable
{
    private const int FlushThreshold = 64 * 1024;
    private readonly Stream _output;
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushThreshold * 2);
    private readonly Utf8JsonWriter _json;

    public JsonLineWriter(Stream output)
    {
        _output = output;
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions
        {
            // Output goes to pipes and files, never into HTML: keep quotes and + readable.
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            // The commands write whole objects through a few well-tested paths (and a failed line is abandoned):
            // skipping the writer's structural checks is worth ~10 % of `llmcost price`.
            SkipValidation = true,
        });
    }

    /// <summary>The writer for the current line; call <see cref="EndLineAsync"/> when the line's value is complete.</summary>
    public Utf8JsonWriter Json => _json;

    public async ValueTask EndLineAsync(CancellationToken cancellationToken = default)
    {
        _json.Flush();
        _buffer.Write("\n"u8);
        _json.Reset(_buffer);
        if (_buffer.WrittenCount >= FlushThreshold)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Abandons a half-written line (an exception while writing it) so the next line starts clean.</summary>
    public void AbandonLine(int mark)
    {
        _json.Reset(_buffer);
        if (_buffer.WrittenCount > mark)
        {
            // ArrayBufferWriter cannot truncate: copy the kept prefix back.
            byte[] kept = _buffer.WrittenSpan[..mark].ToArray();
            _buffer.Clear();
            _buffer.Write(kept);
        }
    }

    public int Mark
    {
        get
        {
            _json.Flush();
            return _buffer.WrittenCount;
        }
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        _json.Flush();
        if (_buffer.WrittenCount > 0)
        {
            await _output.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            _buffer.Clear();
            _json.Reset(_buffer);
        }

        await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await FlushAsync().ConfigureAwait(false);
        await _json.DisposeAsync().ConfigureAwait(false);
    }
}
