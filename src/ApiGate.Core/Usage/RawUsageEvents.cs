namespace ApiGate.Core.Usage;

/// <summary>
/// Which requests the store keeps a raw row for (<c>APIGATE_USAGE_RAW_EVENTS</c>). Every request is counted in the
/// rollups, the quota and the export whatever this says; raw rows only feed <c>usage recent</c>, which reads one user's.
/// </summary>
public enum RawUsageEvents
{
    /// <summary>No raw rows: rollups and quota only (<c>none</c>, or <c>false</c>).</summary>
    None,

    /// <summary>
    /// Rows for requests with a known caller (<c>callers</c>, the default). A public route's requests (user
    /// <see cref="UsageEvent.Anonymous"/>) get none: no user can have that id, so nothing could read those rows, and
    /// public routes are often the busiest.
    /// </summary>
    Callers,

    /// <summary>A row for every request, public routes' included (<c>all</c>, or <c>true</c>), for operators who read the table directly.</summary>
    All,
}

/// <summary>The one rule of <see cref="RawUsageEvents"/>.</summary>
public static class RawUsageEventsRule
{
    /// <summary>Whether the store keeps a raw row for <paramref name="e"/>.</summary>
    public static bool Keeps(this RawUsageEvents mode, in UsageEvent e) =>
        mode == RawUsageEvents.All || (mode == RawUsageEvents.Callers && e.UserId != UsageEvent.Anonymous);

    /// <summary>Whether the store keeps a raw row for any of <paramref name="events"/>.</summary>
    public static bool KeepsAny(this RawUsageEvents mode, IReadOnlyList<UsageEvent> events)
    {
        for (var i = 0; i < events.Count; i++)
        {
            if (mode.Keeps(events[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Reads the setting's value (lower case): <c>callers</c>, <c>all</c> or <c>true</c>, <c>none</c> or <c>false</c>.</summary>
    public static bool TryParse(string value, out RawUsageEvents mode)
    {
        (var ok, mode) = value switch
        {
            "callers" => (true, RawUsageEvents.Callers),
            "all" or "true" => (true, RawUsageEvents.All),
            "none" or "false" => (true, RawUsageEvents.None),
            _ => (false, RawUsageEvents.Callers),
        };
        return ok;
    }
}
