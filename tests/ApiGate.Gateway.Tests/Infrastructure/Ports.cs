using System.Net;
using System.Net.Sockets;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// Loopback ports for servers a test starts on a port chosen in advance (a child process, a restarted receiver) and for
/// addresses where nothing must listen. A port the kernel handed out for port 0 and the test released could be handed to
/// another test's in-process server (they all listen on port 0) before the child bound it: a CI run once had a serve
/// process's readiness answered by another test's gateway. So these come from below the kernel's ephemeral range
/// (<c>net.ipv4.ip_local_port_range</c>), which port 0 never takes, one after another within this test run, each checked
/// free by binding it.
/// </summary>
internal static class Ports
{
    private static readonly int Low = 10_000;
    private static readonly int High = EphemeralStart() - 1;
    private static int _next = Random.Shared.Next(Low, Math.Max(Low + 1, High)); // apart from a concurrent test run's

    /// <summary>A loopback port nothing listens on now, that no server asking for port 0 will be given.</summary>
    public static int Free()
    {
        if (High - Low < 1000)
        {
            return Ephemeral(); // no room below the ephemeral range on this machine
        }

        for (var i = 0; i < 1000; i++)
        {
            var port = Low + ((Interlocked.Increment(ref _next) - Low) % (High - Low + 1));
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // in use: the next one
            }
        }

        return Ephemeral();
    }

    private static int Ephemeral()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int EphemeralStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768; // Linux's default
        }
    }
}
