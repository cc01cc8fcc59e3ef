using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A load balancer in front of <c>apigate serve</c> processes, as an operator's would behave: it probes each member's
/// <c>/health/ready</c> every 100 ms, takes a member out of rotation when it answers <c>503 "stopping"</c> (or does not
/// answer) and puts it back when it answers 200 again; client workers send requests with one API key to the members in
/// rotation in turn. Every request's outcome is counted: a 200, another status, or a connection that failed — split by
/// whether the member had said "stopping" before the request was sent (then sending it was the balancer's fault) or
/// not (the gateway's).
/// </summary>
internal sealed class TestBalancer : IAsyncDisposable
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);

    private readonly string _path;
    private readonly string _key;
    private readonly int _maxRequests;
    private readonly Member[] _members;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly List<Task> _loops = [];
    private readonly List<Member> _retired = [];
    private int _turn;
    private int _sent;
    private int _ok;
    private int _refusedAfterStopping;
    private int _refusedUnannounced;

    /// <param name="path">The path every request is sent to (a route of the gateways).</param>
    /// <param name="key">The API key every request carries.</param>
    /// <param name="maxRequests">The most requests it sends, whatever happens (a bound on a test that goes wrong).</param>
    public TestBalancer(IEnumerable<ServeProcess> members, string path, string key, int maxRequests)
    {
        _members = members.Select(process => new Member(process)).ToArray();
        _path = path;
        _key = key;
        _maxRequests = maxRequests;
    }

    /// <summary>Requests sent so far.</summary>
    public int Sent => Volatile.Read(ref _sent);

    /// <summary>Requests answered 200.</summary>
    public int Ok => Volatile.Read(ref _ok);

    /// <summary>Requests whose connection failed although the member had said "stopping" before they were sent.</summary>
    public int RefusedAfterStopping => Volatile.Read(ref _refusedAfterStopping);

    /// <summary>Requests whose connection failed while the member had not said "stopping": the gateway's fault.</summary>
    public int RefusedUnannounced => Volatile.Read(ref _refusedUnannounced);

    /// <summary>Every request that did not get 200: the member, and the status or the error.</summary>
    public IReadOnlyCollection<string> Failures => _failures;

    /// <summary>The member at <paramref name="index"/> (in the order given), as it is now.</summary>
    public Member this[int index] => Volatile.Read(ref _members[index]);

    /// <summary>Starts probing and <paramref name="workers"/> client workers.</summary>
    public void Start(int workers)
    {
        _loops.Add(Task.Run(ProbeLoopAsync));
        for (var i = 0; i < workers; i++)
        {
            _loops.Add(Task.Run(ClientLoopAsync));
        }
    }

    /// <summary>The member at <paramref name="index"/> runs <paramref name="process"/> now (out of rotation until it is ready).</summary>
    public void Replace(int index, ServeProcess process)
    {
        _retired.Add(_members[index]); // a probe may still be using its connections
        Volatile.Write(ref _members[index], new Member(process));
    }

    /// <summary>Stops the workers and the probes and waits for the requests in flight to end.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        foreach (var member in _members.Concat(_retired))
        {
            member.Client.Dispose();
        }

        _stop.Dispose();
    }

    private async Task ProbeLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            for (var i = 0; i < _members.Length; i++)
            {
                await ProbeAsync(Volatile.Read(ref _members[i]));
            }

            try
            {
                await Task.Delay(ProbeInterval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task ProbeAsync(Member member)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            using var response = await member.Client.GetAsync(member.Process.Url + "/health/ready", timeout.Token);
            var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync(timeout.Token)).RootElement.GetProperty("status").GetString();
            if (status == "stopping")
            {
                member.SaidStopping = true;
            }

            member.InRotation = response.StatusCode == HttpStatusCode.OK && !member.SaidStopping;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException)
        {
            member.InRotation = false;
        }
    }

    private async Task ClientLoopAsync()
    {
        while (!_stop.IsCancellationRequested && Sent < _maxRequests)
        {
            var member = NextInRotation();
            if (member is not null)
            {
                await SendToAsync(member);
            }

            try
            {
                await Task.Delay(member is null ? 10 : 2, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The members in rotation in turn (A, B, A, B … while both are in), or null while none is.</summary>
    private Member? NextInRotation()
    {
        var turn = Interlocked.Increment(ref _turn);
        for (var i = 0; i < _members.Length; i++)
        {
            var member = Volatile.Read(ref _members[(turn + i) % _members.Length]);
            if (member.InRotation)
            {
                return member;
            }
        }

        return null;
    }

    /// <summary>
    /// One request to <paramref name="member"/> whatever its rotation (the workers send theirs through this too; a test
    /// sends one to a member the balancer had routed it to before it noticed a change), counted; returns its status
    /// (0: the connection failed).
    /// </summary>
    public async Task<HttpStatusCode> SendToAsync(Member member)
    {
        var announced = member.SaidStopping;
        var number = Interlocked.Increment(ref _sent);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{member.Process.Url}{_path}{number}");
        request.Headers.Add("X-API-Key", _key);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)); // bounded: a hang fails the test
            using var response = await member.Client.SendAsync(request, timeout.Token);
            await response.Content.LoadIntoBufferAsync(timeout.Token);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Interlocked.Increment(ref _ok);
                Interlocked.Increment(ref member.Served);
            }
            else
            {
                _failures.Enqueue($"{member.Process.Url} (pid {member.Process.Process.Id}): {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }

            return response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            Interlocked.Increment(ref announced ? ref _refusedAfterStopping : ref _refusedUnannounced);
            _failures.Enqueue($"{member.Process.Url} (pid {member.Process.Process.Id}, {(announced ? "said stopping" : "had not said stopping")}): {ex.Message}");
            return 0;
        }
    }

    /// <summary>One gateway process behind the balancer, with the balancer's own connections to it.</summary>
    internal sealed class Member(ServeProcess process)
    {
        /// <summary>Requests it answered 200.</summary>
        public int Served;

        /// <summary>Its last readiness probe answered 200 and it has not said "stopping".</summary>
        public volatile bool InRotation;

        /// <summary>A probe was answered 503 "stopping": from then on the balancer sends it nothing.</summary>
        public volatile bool SaidStopping;

        public ServeProcess Process { get; } = process;

        public HttpClient Client { get; } = TestGateway.CreateClient();
    }
}
