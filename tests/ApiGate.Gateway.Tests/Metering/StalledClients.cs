using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Metering;

/// <summary>
/// Clients that stop reading what the gateway sends them and then vanish: opening them, waiting until the kernel holds
/// all it will for each, making them go, and checking that each is billed for no more than its connection took.
/// </summary>
internal static class StalledClients
{
    // What the server may hold past the kernel's queues and still count: its response or output buffer (64 KiB) and
    // one write of the forwarder's copy buffer (64 KiB), twice over.
    private const long ServerBuffers = 256 * 1024;

    /// <summary>
    /// Opens <paramref name="clients"/> clients with small receive buffers, each sending <paramref name="request"/> and
    /// reading only the start of an answer that must begin with <paramref name="statusLine"/>. Once the kernel's queues
    /// between each client and the gateway are full (unchanged over ten looks in a row), the clients vanish: resetting
    /// (<paramref name="reset"/>) or closing with data unread. Then each recorded event's response bytes must be at most
    /// what its client read, what the kernel held for it and the server's buffers.
    /// </summary>
    public static async Task StallThenVanishAsync(TestGateway gateway, int clients, string request, string statusLine, bool reset)
    {
        var port = new Uri(gateway.Url).Port;
        var sockets = new List<Socket>();
        var read = new long[clients];
        try
        {
            for (var i = 0; i < clients; i++)
            {
                read[i] = await OpenAsync(sockets, port, request, statusLine);
            }

            var queued = await WaitUntilQueuesFullAsync(sockets);
            Vanish(sockets, reset);

            await AssertEachBilledWithinAsync(gateway, clients, read.Max() + queued.Max() + ServerBuffers);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    /// <summary>
    /// Opens a client with a small receive buffer (added to <paramref name="sockets"/> first, so the caller disposes it
    /// whatever happens), sends <paramref name="request"/>, checks the answer starts with <paramref name="statusLine"/>
    /// and returns how many bytes the client read of it.
    /// </summary>
    private static async Task<long> OpenAsync(List<Socket> sockets, int port, string request, string statusLine)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        sockets.Add(socket);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        var head = new byte[1024];
        var read = await socket.ReceiveAsync(head);
        Assert.StartsWith(statusLine, Encoding.ASCII.GetString(head), StringComparison.Ordinal);
        return read;
    }

    /// <summary>
    /// Waits until the kernel's queues between each client and the gateway are full (unchanged over ten looks in a row)
    /// and returns what they hold per client.
    /// </summary>
    private static async Task<long[]> WaitUntilQueuesFullAsync(IReadOnlyList<Socket> sockets)
    {
        var queued = new long[sockets.Count];
        var unchanged = 0;
        await Poll.UntilAsync(() =>
        {
            var now = sockets.Select(Queued).ToArray();
            unchanged = now.All(q => q > 0) && now.SequenceEqual(queued) ? unchanged + 1 : 0;
            queued = now;
            return unchanged >= 10;
        }, () => "the queues to the clients did not fill: " + string.Join(", ", queued));
        return queued;
    }

    /// <summary>The clients go without a word: resetting their connections, or closing them with data unread.</summary>
    private static void Vanish(IEnumerable<Socket> sockets, bool reset)
    {
        foreach (var socket in sockets)
        {
            if (reset)
            {
                socket.LingerState = new LingerOption(true, 0);
            }

            socket.Close();
        }
    }

    /// <summary>
    /// Waits until the gateway has recorded <paramref name="clients"/> usage events, stops it, and checks there are
    /// exactly that many, each with between 1 and <paramref name="bound"/> response bytes.
    /// </summary>
    private static async Task AssertEachBilledWithinAsync(TestGateway gateway, int clients, long bound)
    {
        var recorder = gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
        await Poll.UntilAsync(() => recorder.Written + recorder.QueueDepth == clients, () => "recorded: " + (recorder.Written + recorder.QueueDepth));
        await gateway.StopAsync();

        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        var events = await store.GetRecentUsageAsync(UsageEvent.Anonymous, 100, CancellationToken.None);
        Assert.Equal(clients, events.Count);
        Assert.All(events, e => Assert.InRange(e.ResponseBytes, 1, bound));
    }

    /// <summary>The bytes both ends' kernels hold on a client's connection to the gateway (/proc/net/tcp tx and rx queues).</summary>
    private static long Queued(Socket client) => Queued(((IPEndPoint)client.LocalEndPoint!).Port);

    /// <summary>The bytes the kernel holds on connections to or from local <paramref name="port"/> (/proc/net/tcp tx and rx queues).</summary>
    public static long Queued(int port)
    {
        var hex = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        long total = 0;
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields[1].EndsWith(hex, StringComparison.Ordinal) || fields[2].EndsWith(hex, StringComparison.Ordinal))
            {
                var queues = fields[4].Split(':');
                total += long.Parse(queues[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture) + long.Parse(queues[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        return total;
    }
}
