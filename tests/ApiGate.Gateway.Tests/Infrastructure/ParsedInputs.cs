using ApiGate.Core.Management;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>Tests write changes in their text form, as a user types them, and parse them as the edge does.</summary>
internal static class ParsedInputs
{
    public static UpstreamChanges Parsed(this UpstreamInput input)
    {
        var changes = input.ToChanges();
        Assert.True(changes.Ok, changes.Error?.ToString());
        return changes.Value!;
    }

    public static RouteChanges Parsed(this RouteInput input)
    {
        var changes = input.ToChanges();
        Assert.True(changes.Ok, changes.Error?.ToString());
        return changes.Value!;
    }
}
