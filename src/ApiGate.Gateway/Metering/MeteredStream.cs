using System.Buffers;

namespace ApiGate.Gateway.Metering;

/// <summary>
/// A pass-through stream wrapper that counts bytes, optionally counts server-sent events (blank-line terminators)
/// and optionally keeps the first bytes (for metering expressions that read <c>request.body</c>/<c>response.body</c>).
/// It never delays or buffers the data it passes on.
/// </summary>
internal sealed class MeteredStream(Stream inner, bool countEvents, int captureLimit) : ObservingStream(inner)
{
    private ArrayBufferWriter<byte>? _capture;
    private bool _captureOverflow;
    private int _newlines; // consecutive '\n' seen, ignoring '\r'

    public long Bytes { get; private set; }

    public long Events { get; private set; }

    /// <summary>The captured body, or null when nothing was captured or it exceeded the limit.</summary>
    public ReadOnlyMemory<byte>? Captured => _capture is null || _captureOverflow ? null : _capture.WrittenMemory;

    protected override void OnRead(ReadOnlySpan<byte> data) => Observe(data);

    protected override void OnWrite(ReadOnlySpan<byte> data) => Observe(data);

    private void Observe(ReadOnlySpan<byte> data)
    {
        Bytes += data.Length;
        if (countEvents)
        {
            foreach (var b in data)
            {
                if (b == (byte)'\n')
                {
                    if (++_newlines == 2)
                    {
                        Events++;
                    }
                }
                else if (b != (byte)'\r')
                {
                    _newlines = 0;
                }
            }
        }

        if (captureLimit > 0 && !_captureOverflow && data.Length > 0)
        {
            _capture ??= new ArrayBufferWriter<byte>(Math.Min(captureLimit, 16 * 1024));
            if (_capture.WrittenCount + data.Length > captureLimit)
            {
                _captureOverflow = true;
            }
            else
            {
                _capture.Write(data);
            }
        }
    }
}
