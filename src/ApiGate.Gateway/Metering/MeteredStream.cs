using ApiGate.Gateway.Transforms;

namespace ApiGate.Gateway.Metering;

/// <summary>
/// A pass-through stream wrapper that counts bytes, optionally counts server-sent events and optionally keeps the first
/// bytes (for metering expressions that read <c>request.body</c>/<c>response.body</c>). It never delays or buffers the
/// data it passes on.
/// </summary>
/// <remarks>
/// An event is counted as a client's EventSource dispatches one (the HTML standard's event stream rules): at the blank
/// line that ends a block holding at least one <c>data</c> field. Lines end with CRLF, LF or a lone CR; a block of
/// comments only (<c>: keep-alive</c>), or of <c>event</c>/<c>id</c>/<c>retry</c> fields without data, is not an event.
/// </remarks>
/// <param name="buffered">
/// The gateway-wide budget a capture's buffer is taken from as it grows; a capture that does not fit reads as no body
/// (null), as one over <paramref name="captureLimit"/> does. The share is given back when <see cref="CaptureShare"/> is
/// disposed (at the end of the request).
/// </param>
/// <param name="connection">The server's writer behind <paramref name="inner"/>, when nothing else wraps it (see <see cref="ObservingStream"/>).</param>
/// <param name="responseHeaders">The response's headers, with <paramref name="connection"/> (see <see cref="ObservingStream"/>).</param>
internal sealed class MeteredStream(Stream inner, bool countEvents, int captureLimit, BufferedBodies? buffered = null, System.IO.Pipelines.PipeWriter? connection = null,
    Microsoft.AspNetCore.Http.IHeaderDictionary? responseHeaders = null)
    : ObservingStream(inner, connection, responseHeaders), IOriginalBodyCapture
{
    private const int NotData = -1;

    private static ReadOnlySpan<byte> Bom => [0xEF, 0xBB, 0xBF];

    private byte[]? _capture;
    private int _captured;
    private bool _captureOverflow;
    private bool _captureReplaced; // the capture holds the upstream's body, not what is written after it (CaptureInstead)

    /// <summary>This stream's part of the budget for its capture; dispose it when the request ends.</summary>
    public BufferedBodies.Share? CaptureShare { get; } = captureLimit > 0 ? buffered?.TryTake(0) : null;

    // Event stream parsing state, carried across writes.
    private bool _lineStarted;   // the current line has at least one character
    private int _fieldMatch;     // characters of "data" matched at the start of the line, or NotData
    private bool _lineIsData;    // the current line is a data field ("data" followed by ':' or the line's end)
    private bool _blockHasData;  // the current block holds a data field
    private bool _afterCr;       // the last character was a CR (an LF right after it ends no second line)
    private int _bomMatched;     // bytes of a UTF-8 byte order mark matched at the stream's start; BomDone once decided
    private const int BomDone = -1;

    public long Bytes { get; private set; }

    public long Events { get; private set; }

    /// <summary>The captured body, or null when nothing was captured or it exceeded the limit.</summary>
    public ReadOnlyMemory<byte>? Captured => _capture is null || _captureOverflow ? null : _capture.AsMemory(0, _captured);

    protected override void OnRead(ReadOnlySpan<byte> data) => Observe(data);

    protected override void OnWrite(ReadOnlySpan<byte> data) => Observe(data);

    private void Observe(ReadOnlySpan<byte> data)
    {
        Bytes += data.Length;
        if (countEvents)
        {
            foreach (var b in data)
            {
                CountEvents(b);
            }
        }

        if (!_captureReplaced)
        {
            Capture(data);
        }
    }

    /// <summary>
    /// Makes <paramref name="original"/> the captured body in place of what was and will be written: a route's response
    /// transform writes its edited body, while metering reads the body the upstream answered — a route that removes or
    /// masks the field it bills by (<c>usage.total_tokens</c>) in what its clients see still bills by it.
    /// </summary>
    public void CaptureInstead(ReadOnlySpan<byte> original)
    {
        if (captureLimit <= 0 || _captureOverflow)
        {
            return; // nothing is captured, or the capture already reads as null (its share is given back)
        }

        _captured = 0; // the buffer (and its share of the budget) is kept for the upstream's body
        _captureReplaced = true;
        Capture(original);
    }

    private void Capture(ReadOnlySpan<byte> data)
    {
        if (captureLimit > 0 && !_captureOverflow && data.Length > 0)
        {
            if (_captured + (long)data.Length > captureLimit || !EnsureCapacity(_captured + data.Length))
            {
                // Over the limit, or the gateway holds as many bodies as it may: the body reads as null, and what was
                // kept of it is let go now rather than at the end of the request.
                _captureOverflow = true;
                _capture = null;
                CaptureShare?.Dispose();
                return;
            }

            data.CopyTo(_capture.AsSpan(_captured));
            _captured += data.Length;
        }
    }

    /// <summary>Grows the capture buffer to hold <paramref name="needed"/> bytes (doubling, never past the limit), taking the growth from the budget.</summary>
    private bool EnsureCapacity(int needed)
    {
        var current = _capture?.Length ?? 0;
        if (needed <= current)
        {
            return true;
        }

        var size = Math.Min(captureLimit, Math.Max(needed, Math.Max(current * 2, 16 * 1024)));
        if (CaptureShare is { } share && !share.TryGrow(size - current))
        {
            return false;
        }

        Array.Resize(ref _capture, size);
        return true;
    }

    private void CountEvents(byte b)
    {
        if (_bomMatched != BomDone)
        {
            // A byte order mark at the very start is not part of the first line (EventSource decodes it away).
            if (b == Bom[_bomMatched])
            {
                _bomMatched = _bomMatched == Bom.Length - 1 ? BomDone : _bomMatched + 1;
                return;
            }

            var matched = _bomMatched;
            _bomMatched = BomDone;
            for (var i = 0; i < matched; i++)
            {
                CountEvents(Bom[i]); // not a byte order mark after all: those bytes are text
            }
        }

        if (b == (byte)'\n' && _afterCr)
        {
            _afterCr = false; // the LF of a CRLF: the line already ended at the CR
            return;
        }

        _afterCr = b == (byte)'\r';
        if (b is (byte)'\n' or (byte)'\r')
        {
            if (!_lineStarted)
            {
                // A blank line: the block ends, and it is an event when it held data.
                if (_blockHasData)
                {
                    Events++;
                }

                _blockHasData = false;
            }
            else
            {
                _blockHasData |= _lineIsData || _fieldMatch == 4; // "data" alone on its line is a data field too
            }

            _lineStarted = false;
            _fieldMatch = 0;
            _lineIsData = false;
            return;
        }

        if (!_lineStarted)
        {
            _lineStarted = true;
            _fieldMatch = 0;
        }

        if (_fieldMatch == NotData || _lineIsData)
        {
            return;
        }

        if (_fieldMatch < 4)
        {
            _fieldMatch = b == "data"u8[_fieldMatch] ? _fieldMatch + 1 : NotData;
        }
        else
        {
            _lineIsData = b == (byte)':';
            _fieldMatch = _lineIsData ? 4 : NotData;
        }
    }
}
