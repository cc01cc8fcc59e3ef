namespace ApiGate.Gateway.Observability;

/// <summary>
/// A client's <c>tracestate</c> cut to what W3C Trace Context asks a participant to carry on: at most
/// <see cref="MaxMembers"/> list members and <see cref="MaxLength"/> characters. When it is longer, members longer than
/// <see cref="LongMember"/> characters go first, then members from the end (the newest vendors stand first). Without the
/// bound a client's 30 KB header went into every exported span and on to the upstream as the gateway's own.
/// </summary>
internal static class TraceStates
{
    /// <summary>The most list members a <c>tracestate</c> holds (W3C Trace Context).</summary>
    public const int MaxMembers = 32;

    /// <summary>The length a participant should carry on in full (W3C Trace Context: at least 512 characters).</summary>
    public const int MaxLength = 512;

    /// <summary>Members longer than this are the first to go when the whole is too long (W3C Trace Context).</summary>
    public const int LongMember = 128;

    /// <summary>
    /// <paramref name="traceState"/> itself when it fits (no allocation), else its members, empty ones dropped, cut as
    /// the class says; null when nothing is left.
    /// </summary>
    public static string? Bounded(string? traceState)
    {
        if (string.IsNullOrEmpty(traceState)
            || traceState.Length <= MaxLength && traceState.AsSpan().Count(',') < MaxMembers)
        {
            return traceState;
        }

        var members = new List<string>(MaxMembers);
        foreach (var range in traceState.AsSpan().Split(','))
        {
            var member = traceState.AsSpan()[range].Trim(" \t");
            if (!member.IsEmpty && members.Count < MaxMembers)
            {
                members.Add(member.ToString());
            }
        }

        if (Joined(members) > MaxLength)
        {
            members.RemoveAll(member => member.Length > LongMember);
        }

        while (members.Count > 0 && Joined(members) > MaxLength)
        {
            members.RemoveAt(members.Count - 1);
        }

        return members.Count == 0 ? null : string.Join(',', members);

        static int Joined(List<string> members) => members.Sum(member => member.Length) + Math.Max(0, members.Count - 1);
    }
}
