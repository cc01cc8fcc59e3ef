using ApiGate.Core.Identity;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Portal;

/// <summary>The base of every portal page: the request, and for signed-in pages the customer.</summary>
public abstract class PortalPage : ApiGate.Web.Shared.ServerPage
{
    /// <summary>The signed-in customer (pages behind the session gate only).</summary>
    protected UserDefinition Customer => (UserDefinition)HttpContext.Items[PortalSessionGate.UserItem]!;

    /// <summary>Whether the customer is on billing hold (suspended for a failed payment): only the plan page is theirs.</summary>
    protected bool OnBillingHold => HttpContext.Items.ContainsKey(PortalSessionGate.BillingHoldItem);

    /// <summary>
    /// The address of this request (<c>https://host</c>), for links in emails when no base URL is set. The Host as sent
    /// (punycode stays ASCII, as a URL must be), not <see cref="HttpRequest.Host"/>, which decodes it to Unicode.
    /// </summary>
    protected string Origin => HttpContext.Request.Scheme + "://" + Gateway.Pipeline.RequestHost.Value(HttpContext.Request);

    /// <summary>The client's address, for the login and sign-up limits.</summary>
    protected string ClientAddress => HttpContext.Connection.RemoteIpAddress?.ToString() ?? "";

    /// <summary>
    /// The form field a refusal named (<see cref="Gateway.Portal.PortalResult.Field"/>), or empty when it named none: the
    /// page marks that field, never one it guesses from the message's wording.
    /// </summary>
    protected string RefusedField { get; set; } = "";

    /// <summary>Whether the refusal was about <paramref name="field"/> (its message is above the form either way).</summary>
    protected bool Invalid(string field) => RefusedField.Length > 0 && RefusedField == field;

    /// <summary>
    /// Runs a form's <paramref name="work"/> and returns its result no sooner than
    /// <see cref="Gateway.Portal.PortalOptions.ResetAnswerTime"/> after it began: a form that answers "if … has an
    /// account" alike for every address must not tell by the moment of its answer what its wording hides.
    /// </summary>
    protected async Task<T> AnswerNoSoonerAsync<T>(Func<Task<T>> work)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = await work();
        // (Timers count whole milliseconds and may fire up to one early: wait until the time has really passed.)
        for (var left = Gateway.Portal.PortalOptions.ResetAnswerTime - System.Diagnostics.Stopwatch.GetElapsedTime(started);
             left > TimeSpan.Zero;
             left = Gateway.Portal.PortalOptions.ResetAnswerTime - System.Diagnostics.Stopwatch.GetElapsedTime(started))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(left.TotalMilliseconds) + 1), HttpContext.RequestAborted);
        }

        return result;
    }
}
