using System.Buffers;
using System.Text.Json;
using ApiGate.Core.Usage;

namespace ApiGate.Gateway.Usage;

/// <summary>
/// Raw usage events as JSON lines for the operator's own warehouse (<c>APIGATE_USAGE_EXPORT</c>): to stdout, or appended
/// to a file that is rotated by size — when the next batch would take it past <see cref="MaxBytes"/>, <c>usage.jsonl</c>
/// becomes <c>usage.jsonl.1</c> (the older ones shift up to <see cref="KeptFiles"/>, the oldest is deleted) and a new
/// file starts. Written by the usage writer after each stored batch; one caller at a time.
/// </summary>
internal sealed class UsageExport : IDisposable
{
    /// <summary>The <c>APIGATE_USAGE_EXPORT</c> value that selects standard output.</summary>
    public const string StandardOutput = "stdout";

    /// <summary>Rotated files kept besides the current one.</summary>
    public const int KeptFiles = 5;

    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _json;
    private readonly string? _path;
    private Stream? _stream;
    private long _length;
    private long _rotateAt;
    private string? _openedAs;
    private bool _disposed;
    private readonly Func<string, Stream> _openFile;

    /// <param name="target"><see cref="StandardOutput"/> or a file path.</param>
    /// <param name="maxBytes">The size at which a file is rotated (ignored for stdout).</param>
    public UsageExport(string target, long maxBytes)
        : this(target, maxBytes, null)
    {
    }

    /// <param name="target"><see cref="StandardOutput"/> or a file path.</param>
    /// <param name="maxBytes">The size at which a file is rotated (ignored for stdout).</param>
    /// <param name="openFile">Opens the file for appending (tests put a failing stream around it); null: a plain file stream.</param>
    internal UsageExport(string target, long maxBytes, Func<string, Stream>? openFile)
    {
        _openFile = openFile ?? OpenAppending;
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        MaxBytes = maxBytes;
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
        if (string.Equals(target, StandardOutput, StringComparison.OrdinalIgnoreCase))
        {
            _stream = Console.OpenStandardOutput();
        }
        else
        {
            _path = System.IO.Path.GetFullPath(target);
            try
            {
                var directory = System.IO.Path.GetDirectoryName(_path);
                if (!string.IsNullOrEmpty(directory))
                {
                    Directory.CreateDirectory(directory);
                }

                Open();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // At start, as one line naming the setting (not a stack trace).
                throw new InvalidOperationException($"usage.export (APIGATE_USAGE_EXPORT): cannot append to '{_path}': {ex.Message}", ex);
            }
        }
    }

    public long MaxBytes { get; }

    /// <summary>The file written to, or null for stdout.</summary>
    public string? FilePath => _path;

    /// <summary>
    /// Appends the batch as lines. A batch that cannot be written whole (disk full) leaves no part of a line behind: the
    /// file is cut back to where the batch began, and the exception says why (the batch is not exported again). A file
    /// someone removed or moved away (a log shipper done with it) is started again under its name, and a rotation that
    /// failed is not tried again until the file has grown by another <see cref="MaxBytes"/>.
    /// </summary>
    public void Write(IReadOnlyList<UsageEvent> events)
    {
        if (_disposed)
        {
            return;
        }

        _buffer.ResetWrittenCount();
        for (var i = 0; i < events.Count; i++)
        {
            WriteLine(events[i]);
        }

        if (_path is null)
        {
            _stream!.Write(_buffer.WrittenSpan);
            _stream.Flush();
            return;
        }

        PrepareFile();
        var stream = _stream!;
        var start = stream.Length;
        try
        {
            stream.Write(_buffer.WrittenSpan);
            stream.Flush();
        }
        catch (IOException)
        {
            Truncate(stream, start);
            throw;
        }

        _length = start + _buffer.WrittenCount;
    }

    /// <summary>The file open under its name, rotated first when this batch would take it past <see cref="MaxBytes"/>.</summary>
    private void PrepareFile()
    {
        if (_stream is null || !IsOpenFile() || _stream.Length < _length)
        {
            // Closed by a rotation that failed half-way, or removed or moved away by someone else (and maybe another
            // file made under the name at once, as logrotate's default "create" does), or emptied in place (logrotate's
            // copytruncate): the stream would write on at its own position, past the new end, leaving as many NUL bytes
            // before the next line as the file had, and the rotation would go by the old size.
            _stream?.Dispose();
            _stream = null;
            Open();
        }

        if (_length > 0 && _length + _buffer.WrittenCount > MaxBytes && _length >= _rotateAt)
        {
            try
            {
                Rotate();
            }
            finally
            {
                if (_stream is null)
                {
                    // The rotation failed: keep appending to the file as it is, and try again only after another
                    // MaxBytes, so a rename that keeps failing cannot cost one archived file per batch.
                    Open();
                    _rotateAt = _length + MaxBytes;
                }
            }
        }
    }

    /// <summary>Cuts the file back to <paramref name="length"/> after a batch was written only in part.</summary>
    private static void Truncate(Stream stream, long length)
    {
        try
        {
            if (stream.Length > length)
            {
                stream.SetLength(length);
            }
        }
        catch (IOException)
        {
            // The file was cut short by someone else meanwhile: nothing of ours to take back.
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _stream?.Dispose();
        _stream = null;
        _json.Dispose();
    }

    private void WriteLine(in UsageEvent e)
    {
        _json.Reset(_buffer);
        _json.WriteStartObject();
        // To the microsecond, as the store keeps it: a line and the stored event (usage recent, the admin API) agree.
        _json.WriteString("timestamp", UsageTime.FromUnixMicroseconds(UsageTime.ToUnixMicroseconds(e.Timestamp)));
        _json.WriteString("user_id", e.UserId);
        _json.WriteString("key_id", e.KeyId);
        _json.WriteString("route_id", e.RouteId);
        _json.WriteString("upstream_id", e.UpstreamId);
        _json.WriteString("method", e.Method);
        _json.WriteString("path", e.Path);
        _json.WriteNumber("status", e.Status);
        _json.WriteNumber("latency_ms", double.IsFinite(e.LatencyMs) ? e.LatencyMs : 0);
        _json.WriteNumber("request_bytes", e.RequestBytes);
        _json.WriteNumber("response_bytes", e.ResponseBytes);
        _json.WriteNumber("units", e.Units);
        _json.WriteString("client_ip", e.ClientIp);
        _json.WriteString("request_id", e.RequestId);
        _json.WriteEndObject();
        _json.Flush();
        _buffer.Write("\n"u8);
    }

    private void Open()
    {
        _stream = _openFile(_path!);
        _openedAs = WhereOpen();
        _length = _stream.Length;
        _rotateAt = 0;
    }

    /// <summary>
    /// True while the file at the path is the one open: there is a file there, and (on Linux) the open descriptor still
    /// names the place it named when opened — the kernel names a file moved away at its new place, and a deleted one
    /// "(deleted)". Read from <c>/proc/self/fd</c>, so no C library call whose name differs between versions.
    /// </summary>
    private bool IsOpenFile() => File.Exists(_path) && (_openedAs is null || string.Equals(WhereOpen(), _openedAs, StringComparison.Ordinal));

    /// <summary>Where the open file is, by its descriptor's name in <c>/proc/self/fd</c>; null off Linux or for a stream that is no file's.</summary>
    private string? WhereOpen() =>
        OperatingSystem.IsLinux() && _stream is FileStream file
            ? new FileInfo("/proc/self/fd/" + file.SafeFileHandle.DangerousGetHandle().ToInt64().ToString(System.Globalization.CultureInfo.InvariantCulture)).LinkTarget
            : null;

    /// <summary>Unbuffered: each batch is one write of its own, and a write that failed leaves nothing queued to go out later.</summary>
    private static FileStream OpenAppending(string path) => new(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 1);

    /// <summary>
    /// Why <c>serve</c> could not open <paramref name="target"/> for this process's user — a file standing where its
    /// directory would be made, or a file or directory the user may not write — or null. Asked without creating or
    /// opening anything (<c>access(2)</c>; a named pipe would block an open), so <c>config validate</c> can say it before
    /// <c>serve</c> refuses to start. Null for stdout, a directory (the settings' own check names it) and where it
    /// cannot be asked (permissions: Linux only).
    /// </summary>
    public static string? TargetProblem(string target)
    {
        if (target.Length == 0 || string.Equals(target, StandardOutput, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var path = System.IO.Path.GetFullPath(target);
        var existing = System.IO.Path.GetDirectoryName(path);
        while (existing is not null && !System.IO.Path.Exists(existing))
        {
            existing = System.IO.Path.GetDirectoryName(existing);
        }

        if (Directory.Exists(path) || existing is null)
        {
            return null;
        }

        if (!Directory.Exists(existing))
        {
            return $"cannot append to '{path}': '{existing}' is a file, so the directory cannot be made";
        }

        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var user = Environment.UserName;
        return File.Exists(path)
            ? (Access(path, WriteAccess) == 0 ? null : $"cannot append to '{path}': it cannot be written by {user}, the user this process runs as")
            : (Access(existing, WriteAccess | SearchAccess) == 0 ? null : $"cannot create '{path}': '{existing}' cannot be written by {user}, the user this process runs as");
    }

    private const int WriteAccess = 2; // W_OK
    private const int SearchAccess = 1; // X_OK

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "access", SetLastError = true)]
    private static extern int Access([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int mode);

    private void Rotate()
    {
        _stream!.Dispose();
        _stream = null;
        File.Delete($"{_path}.{KeptFiles}");
        for (var i = KeptFiles - 1; i >= 1; i--)
        {
            if (File.Exists($"{_path}.{i}"))
            {
                File.Move($"{_path}.{i}", $"{_path}.{i + 1}");
            }
        }

        File.Move(_path!, $"{_path}.1");
        Open();
    }
}
