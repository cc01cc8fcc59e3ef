using System.Text.RegularExpressions;

namespace ApiGate.Core.Routing;

/// <summary>
/// A route's path or host regex as requests are matched against it. It runs with backtracking first, the fastest way
/// for the paths and hosts a pattern is written for, but only for <see cref="BacktrackingBudget"/>; a request that
/// outlasts it (a path or Host built to trip a catastrophic pattern such as <c>/(a+)+b</c>) is matched again without
/// backtracking, in time linear in its length, with the same result. Before, such a request ran the pattern for the
/// whole <see cref="PathPatterns.RegexTimeout"/> (200 ms of CPU each), and the timeout answered 404 although a route of
/// lower precedence matched. A pattern that cannot run without backtracking (a backreference, a lookaround, an atomic
/// group, a conditional) is matched again with backtracking for the whole timeout.
/// </summary>
/// <remarks>
/// The regex without backtracking is built the first time a match needs it, not with the route: building one takes
/// ~4 ms of CPU and ~430 KB (the character classes of a <c>{name}</c> segment, <c>[^/]</c>, over the whole of Unicode),
/// so building it for every pattern made a config of 3,000 <c>/users/{id}</c> routes take 1.5 GB and 8 s of CPU at start
/// and again on every change, for a regex only a hostile request ever uses.
/// </remarks>
internal sealed class RouteRegex
{
    /// <summary>
    /// How long one match may backtrack before it is done again linearly. Far above what a match of a real path takes;
    /// a first match that also pays for compiling the regex, or one on a loaded machine, may pass it, and is then only
    /// matched again.
    /// </summary>
    internal static readonly TimeSpan BacktrackingBudget = TimeSpan.FromMilliseconds(5);

    private readonly string _source;
    private readonly RegexOptions _options;
    private readonly Regex _backtracking;
    private Regex? _fallback;

    // Set once a match has finished: the first one also runs the JIT over the regex's emitted code, which on a loaded
    // machine can take longer than the budget by itself, so a first match that runs out of time is tried once more before
    // the fallback (~430 KB) is built for it.
    private bool _warm;

    private RouteRegex(string source, RegexOptions options)
    {
        _source = source;
        _options = options;
        _backtracking = new Regex(source, options | RegexOptions.Compiled, BacktrackingBudget);
    }

    public static RouteRegex Compile(string source, RegexOptions options) => new(source, options);

    /// <summary>True once a match has needed the second regex (for tests: it is built on demand).</summary>
    internal bool FallbackBuilt => Volatile.Read(ref _fallback) is not null;

    /// <summary>Throws <see cref="RegexMatchTimeoutException"/> only for a pattern that needs backtracking and ran out of time.</summary>
    public Match Match(string input)
    {
        while (true)
        {
            try
            {
                var match = _backtracking.Match(input);
                Warmed();
                return match;
            }
            catch (RegexMatchTimeoutException) when (FirstTimeout())
            {
                // the timeout may be the JIT's: once more
            }
            catch (RegexMatchTimeoutException)
            {
                return Fallback().Match(input);
            }
        }
    }

    /// <inheritdoc cref="Match"/>
    public bool IsMatch(ReadOnlySpan<char> input)
    {
        while (true)
        {
            try
            {
                var matched = _backtracking.IsMatch(input);
                Warmed();
                return matched;
            }
            catch (RegexMatchTimeoutException) when (FirstTimeout())
            {
                // the timeout may be the JIT's: once more
            }
            catch (RegexMatchTimeoutException)
            {
                return Fallback().IsMatch(input);
            }
        }
    }

    /// <summary>Read before written: requests on many threads only read it once it is set.</summary>
    private void Warmed()
    {
        if (!Volatile.Read(ref _warm))
        {
            Volatile.Write(ref _warm, true);
        }
    }

    /// <summary>True (once) when no match has finished yet: the timeout may be the JIT's, and the match is tried again.</summary>
    private bool FirstTimeout()
    {
        if (Volatile.Read(ref _warm))
        {
            return false;
        }

        Volatile.Write(ref _warm, true);
        return true;
    }

    /// <summary>
    /// The regex a match that outlasted the budget is done again with: without backtracking where the pattern allows,
    /// else with backtracking for the whole timeout. Built once; two requests that race here may both build it, and one is kept.
    /// </summary>
    private Regex Fallback()
    {
        if (Volatile.Read(ref _fallback) is { } built)
        {
            return built;
        }

        Regex fallback;
        try
        {
            fallback = new Regex(_source, _options | RegexOptions.NonBacktracking, PathPatterns.RegexTimeout);
        }
        catch (NotSupportedException)
        {
            fallback = new Regex(_source, _options | RegexOptions.Compiled, PathPatterns.RegexTimeout);
        }

        return Interlocked.CompareExchange(ref _fallback, fallback, null) ?? fallback;
    }
}
