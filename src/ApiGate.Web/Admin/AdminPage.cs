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

    private IDataProtector RowLabels => DataProtection.CreateProtector("apigate.ui.row-label");

    [Inject]
    private Gateway.Identity.AttemptCounter Counter { get; set; } = default!;

    /// <summary>
    /// The hidden field of a create form whose answer shows a secret once (the page is that post's answer, not a
    /// redirect): a value made for that showing of the form (<see cref="ServerPage.FormOnce"/>), so <see cref="SentAgainAsync"/>
    /// knows the post a reload of the answer sends again.
    /// </summary>
    protected const string OnceField = "_once";

    /// <summary>
    /// Whether this post's <see cref="OnceField"/> was posted before (counted in the store, every instance together):
    /// then <paramref name="errors"/> says so and nothing is to be created — a reload of the page showing a new secret
    /// or a second press of the button made a second one nobody saw.
    /// </summary>
    private protected async Task<bool> SentAgainAsync(FormErrors errors)
    {
        if (Form.NonBlank(OnceField) is not { Length: <= 64 } once
            || await Counter.TakeAsync("ui-create-form", Session.Caller.TokenName + ":" + once, 1, TimeSpan.FromHours(1), HttpContext.RequestAborted) is null)
        {
            return false;
        }

        errors.Add("", "This form was sent already (the page was reloaded, or the button pressed twice), so nothing was created now: the list below shows what the first one made.");
        return true;
    }

    /// <summary>The posted form (in a submit handler).</summary>
    protected FormValues Form => new(HttpContext.Request.Form);

    /// <summary>The hidden field an edit form carries its row's version in (the row's ETag, as the admin API's <c>If-Match</c>).</summary>
    protected const string VersionField = "_version";

    /// <summary>
    /// The version to put in an edit form's <see cref="VersionField"/>: the row's on the page's first showing, the posted
    /// one when a refused form is shown again (so a second try still saves only over the version the operator started from).
    /// </summary>
    private protected string EditedVersion(DateTimeOffset? updatedAt) =>
        HttpMethods.IsPost(HttpContext.Request.Method) ? Form.Trimmed(VersionField) ?? "" : updatedAt is { } at ? ApiGate.Core.Storage.RowVersion.Tag(at) : "";

    /// <summary>
    /// The precondition of an edit form's save: the row is written only while it is still in the version the form was
    /// rendered from, so two sessions editing one row cannot silently overwrite each other. The form always sends it: a
    /// post without it (or with it empty: a crafted post, or a form from an older page) would save over any version, so
    /// <paramref name="errors"/> says so, naming the field, and null is returned — the caller refuses the post.
    /// </summary>
    private protected ApiGate.Core.Management.RowCondition? PostedVersion(FormErrors errors)
    {
        if (Form.NonBlank(VersionField) is { } tag)
        {
            return new ApiGate.Core.Management.RowCondition([tag]);
        }

        errors.Add("", $"The form's {VersionField} field (the version it was opened at) is missing, so nothing was saved: " +
            "it tells whether someone else changed this since. Reload the page and make the change again.");
        return null;
    }

    /// <summary>
    /// An edit form's save refused because the row changed since the form was rendered: 409 and a sentence saying so
    /// above the form (the operator's input stays in it), instead of the admin API's wording about <c>If-Match</c>.
    /// </summary>
    private protected static bool ChangedMeanwhile<T>(ApiGate.Core.Management.ManagementResult<T> saved, FormErrors errors, string kind)
    {
        if (saved.Error is not { Kind: ApiGate.Core.Management.ManagementErrorKind.PreconditionFailed })
        {
            return false;
        }

        errors.Add("", $"This {kind} was changed (in another session, the CLI or the admin API) after this page was opened, so nothing was saved. " +
            $"Open the {kind} again to see its current settings, then make your change there.");
        return true;
    }

    /// <summary>A change succeeded: says what it did in the audit log and goes to <paramref name="location"/> (post, redirect, get).</summary>
    protected void Done(string note, string location)
    {
        HttpContext.Features.Set(new AdminAuditNote(note));
        Navigation.NavigateTo(location + (location.Contains('?') ? "&" : "?") + "done=" + Uri.EscapeDataString(Notes.Protect(note)));
    }

    /// <summary>
    /// The row the page is about is not in the store: answered 404 with a page naming it and a link to its list, as the
    /// admin API answers 404 for it. The gate writes that page (<see cref="AdminSessionGate"/>): a form about a row that is
    /// gone may not be on the page any more, and then the framework renders nothing.
    /// </summary>
    private protected void Missing(MissingRow row)
    {
        HttpContext.Features.Set(row);
        Refused(StatusCodes.Status404NotFound);
    }

    /// <summary>
    /// Something a change named is not in the store, and the page has no row of its own to name (a change named by
    /// <see cref="Refused(ApiGate.Core.Management.ManagementError, MissingRow)"/> does): the 404 page says what the store
    /// does not hold, as the admin API's error does, with a link back to this page.
    /// </summary>
    private protected override void RefusedNotFound(ApiGate.Core.Management.ManagementError error) =>
        Missing(MissingRow.Refused(error.Message, HttpContext.Request.Path + HttpContext.Request.QueryString));

    /// <summary>As <see cref="ServerPage.Refused(ApiGate.Core.Management.ManagementError)"/>, but the row itself not found is <see cref="Missing"/>.</summary>
    private protected void Refused(ApiGate.Core.Management.ManagementError error, MissingRow row)
    {
        if (error.Kind == ApiGate.Core.Management.ManagementErrorKind.NotFound)
        {
            Missing(row);
        }
        else
        {
            Refused(error);
        }
    }

    /// <summary>
    /// In a post of a form about one row of a list — named after the row (one of <paramref name="prefixes"/> and its id),
    /// the id in the field <c>id</c> — that id when the row is not among <paramref name="shown"/>: its form is then not on
    /// the page, so the post reaches no handler (the framework answers a bare 400) and the page must see to it before it
    /// renders. Null otherwise.
    /// </summary>
    private protected string? PostedRowNotShown(string[] prefixes, IEnumerable<string> shown) =>
        prefixes.Select(prefix => PostedRowField(prefix, "id")).FirstOrDefault(id => id is not null) is { } posted
        && !shown.Contains(posted, StringComparer.Ordinal)
            ? posted
            : null;

    /// <summary>
    /// In a post of a paged list's row form named <paramref name="prefix"/> and the row's id (the id in the field <c>id</c>):
    /// <paramref name="page"/> set to the page the row is on now (rows added or deleted before it move it), so the page
    /// rendered holds its form and the post reaches its handler; a row no longer among <paramref name="listed"/> (deleted
    /// meanwhile) answered as <see cref="Missing"/> with <paramref name="row"/>, and false returned. True otherwise.
    /// </summary>
    private protected bool PagePostedRow(string prefix, IEnumerable<string> listed, ref int page, Func<MissingRow> row)
    {
        if (PostedRowField(prefix, "id") is not { } posted)
        {
            return true;
        }

        var at = listed.ToList().IndexOf(posted);
        if (at < 0)
        {
            Missing(row());
            return false;
        }

        page = Pager.PageOf(at);
        return true;
    }

    /// <summary>
    /// In a post of a form named <paramref name="prefix"/> followed by the value of its field <paramref name="field"/> (a
    /// row's form, the field naming the row), that value. Null otherwise.
    /// </summary>
    private protected string? PostedRowField(string prefix, string field)
    {
        if (!HttpMethods.IsPost(HttpContext.Request.Method))
        {
            return null;
        }

        var form = Form;
        return form.Text("_handler") is { } handler && form.NonBlank(field) is { } value && handler.Length == prefix.Length + value.Length
            && handler.StartsWith(prefix, StringComparison.Ordinal) && handler.EndsWith(value, StringComparison.Ordinal)
            ? value
            : null;
    }

    /// <summary>
    /// The field <c>label</c> of a row form: the name the list shows for the row (<paramref name="name"/>), sealed with its
    /// <paramref name="id"/>, so <see cref="PostedRow"/> names a row deleted meanwhile as the list did and a label made
    /// up in a post ("There is no user ceo@… any more") is not shown.
    /// </summary>
    private protected string RowLabel(string id, string name) => RowLabels.Protect(id + "\n" + name);

    /// <summary>
    /// The row a posted row form is about, named by its field <paramref name="labelField"/> (<see cref="RowLabel"/>) when
    /// sealed for its id (the field <paramref name="idField"/>); else by <paramref name="unsealed"/> or that id, as a row
    /// the console may never have shown (<see cref="MissingRow.Shown"/> false).
    /// </summary>
    /// <param name="unsealed">How the request names the row when it is not sealed (the user of <c>?subjects=</c>); its id if null.</param>
    private protected MissingRow PostedRow(string kind, string listPath, string idField = "id", string? unsealed = null, string labelField = "label")
    {
        var form = Form;
        var id = form.Text(idField) ?? "";
        return ListedName(form.NonBlank(labelField), id) is { } listed ? new(kind, listed, listPath) : new(kind, unsealed ?? id, listPath) { Shown = false };
    }

    private string? ListedName(string? label, string id)
    {
        if (label is null)
        {
            return null;
        }

        try
        {
            var unsealed = RowLabels.Unprotect(label);
            return unsealed.Length > id.Length && unsealed.StartsWith(id, StringComparison.Ordinal) && unsealed[id.Length] == '\n' ? unsealed[(id.Length + 1)..] : null;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
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
