using System.Globalization;

namespace ApiGate.Gateway.Balancing;

/// <summary>
/// A recovering target's single trial request in flight. The trial is decided as soon as the upstream's response
/// headers arrive (status below 500: healthy; 500 or above: ejected again), so a long response (a slow body, SSE, a
/// WebSocket) does not keep the target out of service; an attempt that fails before that is decided when it ends.
/// Created only for trial requests, so ordinary requests allocate nothing for it.
/// </summary>
internal sealed class TrialRequest(TargetState state, TargetHealthPolicy policy)
{
    /// <summary>True once the outcome has been applied; the request's end then leaves the target's health alone.</summary>
    public bool Settled { get; private set; }

    /// <summary>The upstream's response headers arrived with <paramref name="status"/>.</summary>
    public void OnResponseHeaders(int status)
    {
        if (Settled)
        {
            return;
        }

        Settled = true;
        if (status >= 500)
        {
            state.SettleTrial(TargetOutcome.Failure, policy, "status " + status.ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            state.SettleTrial(TargetOutcome.Success, policy, "");
        }
    }
}
