using Microsoft.AspNetCore.DataProtection;
using ApiGate.Gateway.Admin;
using Microsoft.AspNetCore.Components;
using ApiGate.Web.Shared;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Admin;

/// <summary>The base of every console page: the request, its session and the caller it acts as.</summary>
public abstract class AdminPage : ServerPage
{
    /// <summary>The admin token's name the page acts for.</summary>
    protected string TokenName => Session.Caller.TokenName;

    internal AdminSession Session => (AdminSession)HttpContext.Items[AdminSessionGate.SessionItem]!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private IDataProtectionProvider DataProtection { get; set; } = default!;

    // The note travels in the redirect's query, sealed: a link with a note of someone else's choosing
    // ("?done=Your token was rotated, sign in at …") shows nothing.
    private IDataProtector Notes => DataProtection.CreateProtector("apigate.ui.done-note");

    /// <summary>The posted form (in a submit handler).</summary>
    protected FormValues Form => new(HttpContext.Request.Form);

    /// <summary>A change succeeded: says what it did in the audit log and goes to <paramref name="location"/> (post, redirect, get).</summary>
    protected void Done(string note, string location)
    {
        HttpContext.Features.Set(new AdminAuditNote(note));
        Navigation.NavigateTo(location + (location.Contains('?') ? "&" : "?") + "done=" + Uri.EscapeDataString(Notes.Protect(note)));
    }

    /// <summary>What the last change did (shown at the top of the page it led to), or null — also for a note the console did not seal.</summary>
    protected string? DoneMessage
    {
        get
        {
            if (Query("done") is not { Length: > 0 } sealedNote)
            {
                return null;
            }

            try
            {
                return Notes.Unprotect(sealedNote);
            }
            catch (System.Security.Cryptography.CryptographicException)
            {
                return null;
            }
        }
    }
}
