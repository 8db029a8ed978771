using System.Buffers;

namespace LlmCost.Cli;

/// <summary>
/// Splits a UTF-8 stream into lines without decoding them: each line is a slice of one pooled buffer, valid until the
/// next call. Handles LF and CRLF, a UTF-8 byte-order mark, and a last line without a newline. Before it blocks on
/// the input it flushes the output, so an interactive producer sees each answer at once.
/// </summary>
internal sealed class Utf8LineReader(Stream input)
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private int _start;
    private int _end;
    private bool _eof;
    private bool _first = true;

    /// <summary>The next line (without its line break), or null at the end of the input.</summary>
    public async ValueTask<ReadOnlyMemory<byte>?> NextAsync(JsonLineWriter output, CancellationToken cancellationToken)
    {
        while (true)
        {
            int newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                ReadOnlyMemory<byte> line = Take(newline, newline + 1);
                return line;
            }

            if (_eof)
            {
                if (_end > _start)
                {
                    return Take(_end - _start, _end - _start);
                }

                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
                return null;
            }

            // No complete line buffered: the producer is slow or interactive, so let it see the answers now.
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                // One line longer than the buffer: grow for it (memory follows the longest line, not the input).
                byte[] larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
                _buffer.AsSpan(0, _end).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }

            int read = await input.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                _eof = true;
            }

            _end += read;
        }
    }

    /// <summary>True for a line of spaces and tabs only (or nothing).</summary>
    public static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \t\r\f\v"u8).IsEmpty;

    private ReadOnlyMemory<byte> Take(int length, int consumed)
    {
        var line = new ReadOnlyMemory<byte>(_buffer, _start, length);
        _start += consumed;
        if (line.Length > 0 && line.Span[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        if (_first)
        {
            _first = false;
            if (line.Span.StartsWith("\uFEFF"u8))
            {
                line = line[3..];
            }
        }

        return line;
    }
}
