using System.Net.Sockets;
using System.Text;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on loopback in front of a PostgreSQL server that, once armed, cuts the connection of one transaction
/// whose statements name a given text (<c>usage_events</c>) at its <c>COMMIT</c>: either the server commits and its
/// answer is not passed on (<see cref="CommitCut.AnswerLost"/>: the transaction is stored, the client is not told), or
/// the COMMIT never reaches the server, whose connection is kept open (<see cref="CommitCut.NeverSent"/>: the transaction
/// stays open there, holding its locks, as when a network cut leaves the server unaware). Either way the client's
/// commit fails as on a restart or a network cut. Everything else passes unchanged. Disposing stops the listener and
/// closes every connection.
/// </summary>
internal sealed class CommitCuttingProxy : LoopbackTcpProxy
{
    /// <summary>The simple-protocol query message Npgsql sends to commit a transaction: 'Q', its length (4 + 7), "COMMIT\0".</summary>
    private static readonly byte[] Commit = [(byte)'Q', 0, 0, 0, 11, .. Encoding.ASCII.GetBytes("COMMIT"), 0];

    private byte[]? _armedFor;
    private CommitCut _cut;
    private int _cuts;

    private CommitCuttingProxy(int serverPort)
        : base(serverPort) => Listen();

    /// <summary>How a COMMIT is cut.</summary>
    public enum CommitCut
    {
        /// <summary>The server commits; its answer is not passed on.</summary>
        AnswerLost,

        /// <summary>The COMMIT is not passed on; the server's side of the connection stays open.</summary>
        NeverSent,

        /// <summary>As <see cref="AnswerLost"/>, and from then on new connections are refused (<see cref="LoopbackTcpProxy.Refusing"/>).</summary>
        AnswerLostServerGone,
    }

    /// <summary>COMMITs cut so far (each one closed the client's connection).</summary>
    public int Cuts => Volatile.Read(ref _cuts);

    public static CommitCuttingProxy Start(int serverPort) => new(serverPort);

    /// <summary>Cuts the next COMMIT of a transaction whose statements contain <paramref name="text"/> (once).</summary>
    public void CutNextCommitAfter(string text, CommitCut cut = CommitCut.AnswerLost)
    {
        _cut = cut;
        Volatile.Write(ref _armedFor, Encoding.UTF8.GetBytes(text));
    }

    protected override void Serve(TcpClient client, TcpClient server)
    {
        var connection = new Connection(client, server);
        _ = CopyAsync(client.GetStream(), server.GetStream(), data => FromClientAsync(connection, data));
        _ = CopyAsync(server.GetStream(), client.GetStream(), data => FromServerAsync(connection, data));
    }

    /// <summary>Client to server: watches for the armed text, then for the COMMIT after it, and marks the connection before passing that on.</summary>
    private async Task FromClientAsync(Connection connection, ReadOnlyMemory<byte> data)
    {
        var window = connection.Window; // the last bytes of the previous read (a text split between two reads) and this read
        window.AddRange(data.Span);
        var armed = Volatile.Read(ref _armedFor);
        connection.TextSeen |= armed is not null && IndexOf(window, armed) >= 0;
        if (IndexOf(window, Commit) >= 0)
        {
            if (connection.TextSeen && armed is not null && Interlocked.CompareExchange(ref _armedFor, null, armed) == armed)
            {
                if (_cut == CommitCut.NeverSent)
                {
                    Interlocked.Increment(ref _cuts);
                    Reset(connection.Client);
                    return;
                }

                // Every earlier answer has been read by the client (it waits for them before committing): the next
                // bytes from the server are the answer to this COMMIT.
                Volatile.Write(ref connection.CutNextAnswer, true);
            }

            connection.TextSeen = false;
            window.Clear();
        }
        else if (window.Count > 256)
        {
            window.RemoveRange(0, window.Count - 256);
        }

        await connection.Server.GetStream().WriteAsync(data, Stopping.Token);
    }

    /// <summary>Server to client: passes everything on, except the answer to a marked COMMIT, which closes both sides instead.</summary>
    private async Task FromServerAsync(Connection connection, ReadOnlyMemory<byte> data)
    {
        if (Volatile.Read(ref connection.CutNextAnswer))
        {
            Refusing |= _cut == CommitCut.AnswerLostServerGone;
            Interlocked.Increment(ref _cuts);
            Reset(connection.Client);
            connection.Server.Dispose();
            return;
        }

        await connection.Client.GetStream().WriteAsync(data, Stopping.Token);
    }

    /// <summary>Closes with a reset, as a host that went away.</summary>
    private static void Reset(TcpClient client)
    {
        client.Client.LingerState = new LingerOption(true, 0);
        client.Dispose();
    }

    private static int IndexOf(List<byte> haystack, byte[] needle)
    {
        for (var i = 0; i + needle.Length <= haystack.Count; i++)
        {
            var match = true;
            for (var j = 0; j < needle.Length && match; j++)
            {
                match = haystack[i + j] == needle[j];
            }

            if (match)
            {
                return i;
            }
        }

        return -1;
    }

    private sealed class Connection(TcpClient client, TcpClient server)
    {
        public bool CutNextAnswer;

        /// <summary>The armed text was sent since this connection's last COMMIT.</summary>
        public bool TextSeen;

        public List<byte> Window { get; } = [];

        public TcpClient Client { get; } = client;

        public TcpClient Server { get; } = server;
    }
}
