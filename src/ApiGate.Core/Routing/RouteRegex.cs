using System.Text.RegularExpressions;

namespace ApiGate.Core.Routing;

/// <summary>
/// A route's path or host regex as requests are matched against it. It runs with backtracking first, the fastest way
/// for the paths and hosts a pattern is written for, but only for <see cref="BacktrackingBudget"/>; a request that
/// outlasts it (a path or Host built to trip a catastrophic pattern such as <c>/(a+)+b</c>) is matched again without
/// backtracking, in time linear in its length, with the same result. Before, such a request ran the pattern for the
/// whole <see cref="PathPatterns.RegexTimeout"/> (200 ms of CPU each), and the timeout answered 404 although a route of
/// lower precedence matched. A pattern that cannot run without backtracking (a backreference, a lookaround, an atomic
/// group, a conditional) keeps the whole timeout.
/// </summary>
internal sealed class RouteRegex
{
    /// <summary>
    /// How long one match may backtrack before it is done again linearly. Far above what a match of a real path takes;
    /// a first match that also pays for compiling the regex, or one on a loaded machine, may pass it, and is then only
    /// matched again.
    /// </summary>
    internal static readonly TimeSpan BacktrackingBudget = TimeSpan.FromMilliseconds(5);

    private readonly Regex _backtracking;
    private readonly Regex? _linear;

    private RouteRegex(Regex backtracking, Regex? linear)
    {
        _backtracking = backtracking;
        _linear = linear;
    }

    public static RouteRegex Compile(string source, RegexOptions options)
    {
        Regex? linear;
        try
        {
            linear = new Regex(source, options | RegexOptions.NonBacktracking, PathPatterns.RegexTimeout);
        }
        catch (NotSupportedException)
        {
            linear = null;
        }

        var backtracking = new Regex(source, options | RegexOptions.Compiled, linear is null ? PathPatterns.RegexTimeout : BacktrackingBudget);
        return new RouteRegex(backtracking, linear);
    }

    /// <summary>Throws <see cref="RegexMatchTimeoutException"/> only for a pattern that needs backtracking and ran out of time.</summary>
    public Match Match(string input)
    {
        try
        {
            return _backtracking.Match(input);
        }
        catch (RegexMatchTimeoutException) when (_linear is not null)
        {
            return _linear.Match(input);
        }
    }

    /// <inheritdoc cref="Match"/>
    public bool IsMatch(ReadOnlySpan<char> input)
    {
        try
        {
            return _backtracking.IsMatch(input);
        }
        catch (RegexMatchTimeoutException) when (_linear is not null)
        {
            return _linear.IsMatch(input);
        }
    }
}
