using ApiGate.Core.Balancing;
using ApiGate.Core.Upstreams;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Balancing;

/// <summary>
/// Picks the target for one request of one upstream (SPEC §6.4), built once per snapshot. Only healthy targets are
/// chosen, plus the single trial request of a target whose passive cool-down ended. Picking takes no lock and
/// allocates nothing: counters are atomic, the round-robin schedule and the hash ring are precomputed arrays.
/// </summary>
internal sealed class LoadBalancer
{
    private readonly TargetBinding[] _targets;
    private readonly LoadBalancingPolicy _policy;
    private readonly HashSource _hashOn;
    private readonly int[] _schedule;
    private readonly HashRing? _ring;
    private readonly bool _trials;
    private readonly TimeSpan _cooldown;
    private readonly TimeSpan _probesToReturn; // zero without active checks
    private readonly TimeProvider _timeProvider;
    private readonly Random _random;
    private int _cursor = -1;
    private int _spill = -1; // turns of the targets that stand in for scheduled ones that are down

    /// <param name="continueFrom">
    /// The same upstream's balancer in the previous snapshot: the rotation goes on from where it was instead of starting
    /// over at the first target at every reload (with a reload between every few requests, the first target took them all).
    /// </param>
    public LoadBalancer(
        TargetBinding[] targets, LoadBalancingPolicy policy, string hashOn, TargetHealthPolicy health, TimeProvider timeProvider, Random? random = null,
        LoadBalancer? continueFrom = null)
    {
        if (targets.Length == 0)
        {
            throw new ArgumentException("an upstream needs at least one target", nameof(targets));
        }

        _targets = targets;
        _policy = policy;
        _hashOn = HashSource.Parse(hashOn, out _);
        _trials = !health.ActiveChecks;
        _cooldown = health.Cooldown;
        _probesToReturn = health.ActiveChecks ? health.Interval * health.Settings.HealthyThreshold : TimeSpan.Zero;
        _timeProvider = timeProvider;
        _random = random ?? Random.Shared;
        var weights = targets.Select(t => t.Weight).ToArray();
        _schedule = SmoothWeightedRoundRobin.Schedule(weights);
        _ring = policy == LoadBalancingPolicy.Hash ? HashRing.Build([.. targets.Select(t => t.Url)], weights) : null;
        if (continueFrom is not null)
        {
            _cursor = Volatile.Read(ref continueFrom._cursor);
            _spill = Volatile.Read(ref continueFrom._spill);
        }
    }

    public IReadOnlyList<TargetBinding> Targets => _targets;

    public LoadBalancingPolicy Policy => _policy;


    /// <summary>
    /// A target for a request (<paramref name="keyId"/> = the caller's API key id, for <c>hash</c> by key) other than
    /// <paramref name="exclude"/>; null when none is available.
    /// </summary>
    public TargetBinding? Pick(HttpContext context, string? keyId, TargetBinding? exclude = null) => Pick(context, keyId, exclude, out _);

    /// <inheritdoc cref="Pick(HttpContext, string?, TargetBinding?)"/>
    public TargetBinding? Pick(HttpContext context, string? keyId, TargetBinding? exclude, out bool trial)
    {
        trial = false;
        if (_trials && TryTrial(exclude) is { } trialTarget)
        {
            trial = true;
            return trialTarget;
        }

        if (_targets.Length == 1)
        {
            var only = _targets[0];
            return Available(only, exclude) ? only : null;
        }

        return _policy switch
        {
            LoadBalancingPolicy.LeastRequests => LeastRequests(exclude),
            LoadBalancingPolicy.PowerOfTwo => PowerOfTwo(exclude),
            LoadBalancingPolicy.Random => RandomAvailable(exclude, null),
            LoadBalancingPolicy.FirstHealthy => FirstHealthy(exclude),
            LoadBalancingPolicy.Hash => Hash(context, keyId, exclude),
            _ => RoundRobin(exclude),
        };
    }

    /// <summary>
    /// When <see cref="Pick(HttpContext, string?, TargetBinding?, out bool)"/> found no target: about how soon one could
    /// take traffic again, for the <c>Retry-After</c> of the <c>503</c>. An ejected target is tried again when its
    /// cool-down ends; with active checks it (and an unhealthy one) then needs its healthy threshold of probes, an
    /// interval apart. An estimate: probes already passed are not counted, and a probe may fail.
    /// </summary>
    public TimeSpan SoonestBack()
    {
        var now = _timeProvider.GetTimestamp();
        var soonest = TimeSpan.MaxValue;
        foreach (var target in _targets)
        {
            var wait = target.State.Health switch
            {
                TargetHealth.Ejected => target.State.CooldownLeft(now, _cooldown) + _probesToReturn,
                TargetHealth.Unhealthy => _probesToReturn,
                _ => TimeSpan.Zero, // a trial request in flight, or healthy again since the pick
            };
            soonest = wait < soonest ? wait : soonest;
        }

        return soonest;
    }

    private static bool Available(TargetBinding target, TargetBinding? exclude) => target != exclude && target.State.IsHealthy;

    private TargetBinding? TryTrial(TargetBinding? exclude)
    {
        long now = 0;
        foreach (var target in _targets)
        {
            // Unhealthy too: without active checks nothing else would bring such a target back (TryBeginTrial).
            if (target != exclude && target.State.Health is TargetHealth.Ejected or TargetHealth.Unhealthy)
            {
                if (now == 0)
                {
                    now = _timeProvider.GetTimestamp();
                }

                if (target.State.TryBeginTrial(now, _cooldown))
                {
                    return target;
                }
            }
        }

        return null;
    }

    private TargetBinding? RoundRobin(TargetBinding? exclude)
    {
        // A retry (a target to exclude) takes no turn of the rotation: otherwise every failed request would move the
        // cursor twice, and with two targets the failing one would be the first pick of every request.
        var step = exclude is null ? (uint)Interlocked.Increment(ref _cursor) : (uint)Volatile.Read(ref _cursor);
        var scheduled = _targets[_schedule[step % (uint)_schedule.Length]];
        // A target that is down hands its turns to the available ones in turn, by weight. The step itself is no fair
        // stand-in: a down target's steps recur every cycle, so step modulo the available weight can land on the same
        // target every time (four targets, the second and fourth down: the third took 3/4 of the traffic, the first 1/4).
        return Available(scheduled, exclude) ? scheduled : Weighted((uint)Interlocked.Increment(ref _spill), exclude, null);
    }

    /// <summary>The target at <paramref name="point"/> of the available targets' combined weight (taken modulo it).</summary>
    private TargetBinding? Weighted(uint point, TargetBinding? exclude, TargetBinding? exclude2)
    {
        long total = 0;
        foreach (var target in _targets)
        {
            if (target != exclude2 && Available(target, exclude))
            {
                total += target.Weight;
            }
        }

        if (total == 0)
        {
            return null;
        }

        var remaining = point % total;
        foreach (var target in _targets)
        {
            if (target != exclude2 && Available(target, exclude))
            {
                remaining -= target.Weight;
                if (remaining < 0)
                {
                    return target;
                }
            }
        }

        return null;
    }

    private TargetBinding? RandomAvailable(TargetBinding? exclude, TargetBinding? exclude2) =>
        Weighted((uint)_random.Next(int.MaxValue), exclude, exclude2);

    private TargetBinding? LeastRequests(TargetBinding? exclude)
    {
        // Ties go round the list from a moving start, so idle targets share the load instead of the first taking it.
        var start = (uint)Interlocked.Increment(ref _cursor);
        TargetBinding? best = null;
        for (var i = 0; i < _targets.Length; i++)
        {
            var target = _targets[(int)((start + (uint)i) % (uint)_targets.Length)];
            if (Available(target, exclude) && (best is null || Less(target, best)))
            {
                best = target;
            }
        }

        return best;
    }

    private TargetBinding? PowerOfTwo(TargetBinding? exclude)
    {
        var first = RandomAvailable(exclude, null);
        if (first is null)
        {
            return null;
        }

        var second = RandomAvailable(exclude, first);
        return second is not null && Less(second, first) ? second : first;
    }

    /// <summary>Fewer requests in flight per unit of weight (compared without division).</summary>
    private static bool Less(TargetBinding a, TargetBinding b) => (long)a.State.InFlight * b.Weight < (long)b.State.InFlight * a.Weight;

    private TargetBinding? FirstHealthy(TargetBinding? exclude)
    {
        foreach (var target in _targets)
        {
            if (Available(target, exclude))
            {
                return target;
            }
        }

        return null;
    }

    private TargetBinding? Hash(HttpContext context, string? keyId, TargetBinding? exclude)
    {
        if (!TryHashKey(context, keyId, out var hash))
        {
            return RoundRobin(exclude); // no key (no header, anonymous caller): spread like round robin
        }

        // Walk clockwise from the key's point to the first available target: when the owner is down, its keys move
        // to the next owners on the ring and come back when it recovers; other keys stay where they are.
        if (FirstHealthy(exclude) is null)
        {
            return null;
        }

        var ring = _ring!;
        var start = ring.FirstPoint(hash);
        for (var i = 0; i < ring.Count; i++)
        {
            var target = _targets[ring.OwnerAt(start + i)];
            if (Available(target, exclude))
            {
                return target;
            }
        }

        return null;
    }

    private bool TryHashKey(HttpContext context, string? keyId, out ulong hash)
    {
        hash = 0;
        switch (_hashOn.Kind)
        {
            case HashSourceKind.Header:
                var value = context.Request.Headers[_hashOn.HeaderName] is { Count: > 0 } values ? values[0] : null;
                if (string.IsNullOrEmpty(value))
                {
                    return false;
                }

                hash = StableHash.Of(value.AsSpan());
                return true;
            case HashSourceKind.Key:
                if (keyId is null)
                {
                    return false;
                }

                hash = StableHash.Of(keyId.AsSpan());
                return true;
            case HashSourceKind.ClientIp:
                Span<byte> address = stackalloc byte[16];
                if (context.Connection.RemoteIpAddress is not { } ip || !ip.TryWriteBytes(address, out var written))
                {
                    return false;
                }

                // An IPv4 client of a dual-stack listener ([::]) arrives as ::ffff:a.b.c.d: hashed as a.b.c.d, as a gateway
                // listening on 0.0.0.0 (or reading the address from X-Forwarded-For) sees it, so every instance sends it to
                // the same target.
                hash = ip.IsIPv4MappedToIPv6 ? StableHash.Of(address[12..written]) : StableHash.Of(address[..written]);
                return true;
            default:
                return false;
        }
    }
}
