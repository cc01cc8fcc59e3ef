using ApiGate.Core.Storage;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace ApiGate.Web.Shared;

/// <summary>How a page of the console or the portal fails: the same rules for both, each with its own page.</summary>
internal static class PageFailures
{
    /// <summary>
    /// Runs <paramref name="serve"/>. A form the client sent that cannot be read answers its 4xx, unlogged
    /// (<see cref="FormPosts.IsClientError"/>) — a 400 with a page saying so (<see cref="WriteUnreadableFormAsync"/>); any
    /// other failure (but the client going away) is handed to <paramref name="log"/> and answered with
    /// <paramref name="page"/>'s HTML — 503 when the store is unreachable (its argument is then true), else 500 — the
    /// details in the log only.
    /// </summary>
    /// <param name="fallbackPath">The application's root, linked to when the request has no path of its own.</param>
    /// <param name="stylesheet">The site stylesheet's URL as this application serves it.</param>
    public static async Task RunAsync(
        HttpContext context, Func<Task> serve, Action<Exception> log, Func<bool, string> page, string fallbackPath, string stylesheet)
    {
        // The pages' NavigationManager makes a URI of the request's scheme and Host: a request it cannot make one of
        // (HTTP/1.0 without a Host, a port over 65535, a label that is not valid punycode) is the client's error,
        // answered 400 and not logged as a failure.
        if (!HasPageAddress(context.Request))
        {
            SecurityHeaders.Apply(context.Response);
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        // A form declared in a character set the framework's form reader will not load (UTF-7, which .NET refuses) would
        // throw from every read of it — the antiforgery check's first — and be answered 500 and logged as a failure.
        if (HttpMethods.IsPost(context.Request.Method) && FormPosts.HasUnusableCharset(context.Request))
        {
            SecurityHeaders.Apply(context.Response);
            await WriteRefusedFormAsync(context, fallbackPath, stylesheet,
                "The form was sent in a character set the gateway does not read (a browser sends UTF-8), so nothing was changed. Open {0} again and resend the form.");
            return;
        }

        try
        {
            await serve();
        }
        catch (Exception ex) when (FormPosts.IsClientError(ex) && !context.Response.HasStarted)
        {
            context.Response.Clear();
            SecurityHeaders.Apply(context.Response);
            context.Response.StatusCode = FormPosts.StatusOf(ex);
            if (context.Response.StatusCode == StatusCodes.Status400BadRequest)
            {
                await WriteUnreadableFormAsync(context, fallbackPath, stylesheet);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            log(ex);
            if (!context.Response.HasStarted)
            {
                var unavailable = ex is StoreUnavailableException;
                context.Response.Clear();
                SecurityHeaders.Apply(context.Response);
                context.Response.StatusCode = unavailable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status500InternalServerError;
                context.Response.ContentType = "text/html; charset=utf-8";
                await context.Response.WriteAsync(page(unavailable));
            }
        }
    }

    /// <summary>
    /// Whether a page's absolute address can be made of <paramref name="request"/>'s scheme and Host, as the framework
    /// makes it (through <see cref="HttpRequest.Host"/>, see <see cref="Gateway.Pipeline.RequestHost.CanBeDecoded"/>).
    /// </summary>
    private static bool HasPageAddress(HttpRequest request) =>
        Gateway.Pipeline.RequestHost.CanBeDecoded(request)
        && Uri.TryCreate(request.Scheme + "://" + Gateway.Pipeline.RequestHost.Value(request) + "/", UriKind.Absolute, out _);

    /// <summary>
    /// Answers a form post whose antiforgery token is missing or no longer valid (forged, or rendered under a key or
    /// session that has since changed): 400 and a page saying nothing was changed, instead of the framework's empty 400.
    /// </summary>
    /// <param name="stylesheet">The site stylesheet's URL as this application serves it.</param>
    public static Task WriteFormRefusedAsync(HttpContext context, string fallbackPath, string stylesheet) =>
        WriteRefusedFormAsync(context, fallbackPath, stylesheet,
            "The form's security token (antiforgery) was missing or no longer valid, so nothing was changed. Open {0} again and resend the form.");

    /// <summary>
    /// Answers a form post the server cannot read — a value holding a NUL character (which the framework's form reader
    /// refuses, and a browser never sends from a field typed into), a field name or a count of fields past the reader's
    /// limits, or a body that is not a form: 400 and a page saying
    /// nothing was changed, instead of an empty 400.
    /// </summary>
    private static Task WriteUnreadableFormAsync(HttpContext context, string fallbackPath, string stylesheet) =>
        WriteRefusedFormAsync(context, fallbackPath, stylesheet,
            "The form could not be read (a field held a character no form may carry, such as NUL; a field name was too long or there were too many fields; or the body was not a form), so nothing was changed. Open {0} again and resend the form.");

    /// <summary>
    /// After a form post's page ran: when the framework refused the post without a word — it names a form the page does
    /// not show (a tab opened before the page changed, a crafted post) — answers 400 and a page saying nothing was
    /// changed instead of the empty 400. A page's own refusals have a body by then and are left alone.
    /// </summary>
    /// <param name="stylesheet">The site stylesheet's URL as this application serves it.</param>
    public static Task AfterFormPostAsync(HttpContext context, string fallbackPath, string stylesheet) =>
        HttpMethods.IsPost(context.Request.Method) && context.Response.StatusCode == StatusCodes.Status400BadRequest && !context.Response.HasStarted
            ? WriteRefusedFormAsync(context, fallbackPath, stylesheet,
                "This form is not on the page any more (the page has changed since it was opened), so nothing was changed. Open {0} again to see what it offers now.")
            : Task.CompletedTask;

    /// <summary>400 and a page with <paramref name="sentence"/>, whose <c>{0}</c> is a link to the page posted to.</summary>
    private static Task WriteRefusedFormAsync(HttpContext context, string fallbackPath, string stylesheet, string sentence)
    {
        var back = System.Net.WebUtility.HtmlEncode(context.Request.Path.HasValue ? context.Request.Path.Value : fallbackPath);
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return WritePageAsync(context, stylesheet, "Form refused", "This form was refused", "form-refused",
            string.Format(System.Globalization.CultureInfo.InvariantCulture, sentence, $"<a href=\"{back}\">the page</a>"));
    }

    /// <summary>
    /// Answers a request whose address gives a query parameter more than once (<c>?status=a&amp;status=b</c>, names
    /// compared ignoring case, as the pages read them) and returns true: 400 and a page naming it, as the admin API
    /// refuses a repeated parameter — a page reading it would otherwise see the values joined by a comma ("a,b"), a value
    /// nobody sent. False, and nothing written, for any other request.
    /// </summary>
    /// <param name="root">The application's root page, linked to from the answer.</param>
    /// <param name="rootName">The root page's name after "Back to" ("the dashboard").</param>
    /// <param name="stylesheet">The site stylesheet's URL as this application serves it.</param>
    public static async Task<bool> RefusedRepeatedQueryAsync(HttpContext context, string root, string rootName, string stylesheet)
    {
        if (RepeatedQueryParameter(context.Request) is not { } name)
        {
            return false;
        }

        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        await WritePageAsync(context, stylesheet, "Address refused", "This address was refused", "query-refused",
            $"The query parameter <code>{Shown(Cut(name))}</code> is given more than once in the address, so nothing was shown or changed: give it once. " +
            $"<a href=\"{root}\">Back to {rootName}</a>.");
        return true;
    }

    /// <summary>
    /// Answers a form post that gives a field more than once (<c>Email=a&amp;Email=b</c>; names compared ignoring case, as
    /// the form reader and the pages' binding compare them, so <c>Email</c> and <c>email</c> are one field) and returns
    /// true: 400 and a page naming the field — never its values, which may be a password — and nothing was changed. The
    /// pages would otherwise bind one of the values without a word; the portal's forms send each field once (they have
    /// no checkbox pairs), so a repeated one comes from a broken or hostile client. False, and nothing written, for any
    /// other post. Call after the antiforgery check: the form is read and the token known good by then (a repeated
    /// token field is refused by that check already).
    /// </summary>
    /// <param name="fallbackPath">The application's root, linked to when the request has no path of its own.</param>
    /// <param name="stylesheet">The site stylesheet's URL as this application serves it.</param>
    /// <param name="checkboxes">
    /// The names of the application's checkboxes: such a field given twice, first as <c>false</c>, is one field, as the
    /// console's forms send a checkbox (its hidden "false", then the box's "true" when ticked; <see cref="FormValues.Bool"/>
    /// checks that second value). Any other field given twice is refused, "false" first or not.
    /// </param>
    public static async Task<bool> RefusedRepeatedFormFieldAsync(HttpContext context, string fallbackPath, string stylesheet, IReadOnlySet<string>? checkboxes = null)
    {
        if (!context.Request.HasFormContentType)
        {
            return false;
        }

        // The collection keeps a field under its first spelling, in the order the fields came.
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        foreach (var field in form)
        {
            if (field.Value.Count > 1 && !(checkboxes is not null && checkboxes.Contains(field.Key) && field.Value.Count == 2 && field.Value[0] == "false"))
            {
                // The name goes into the sentence's format string: its braces are doubled to stay text.
                var name = Shown(Cut(field.Key)).Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal);
                await WriteRefusedFormAsync(context, fallbackPath, stylesheet,
                    $"The field <code>{name}</code> is given more than once in the form (field names are compared ignoring case), so nothing was changed: " +
                    "each field is sent once. Open {0} again and resend the form.");
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Answers a form post with a field whose name or value is not valid UTF-8 (<c>%FF</c>, or <c>%ED%A0%80</c>, a lone
    /// surrogate, percent-encoded or sent raw), or, in a form declared in another character set (<c>charset=utf-16</c>), raw
    /// bytes that set cannot read, and returns true: 400 and a page naming the field — never its value — and
    /// nothing was changed. The framework's form reader keeps such a sequence as its escape text ("%FF") or a
    /// replacement character, and the pages would store that without a word; a browser sends its forms in UTF-8. False,
    /// and nothing written, for any other post, and for one whose body was not kept for a second read
    /// (<see cref="FormPosts.KeepBody"/>). Call after the antiforgery check, as <see cref="RefusedRepeatedFormFieldAsync"/>.
    /// </summary>
    /// <param name="fallbackPath">The application's root, linked to when the request has no path of its own.</param>
    /// <param name="stylesheet">The site stylesheet's URL as this application serves it.</param>
    public static async Task<bool> RefusedInvalidUtf8FormFieldAsync(HttpContext context, string fallbackPath, string stylesheet)
    {
        if (await FormPosts.FieldNotUtf8Async(context.Request, context.RequestAborted) is not { } field)
        {
            return false;
        }

        // The name goes into the sentence's format string: its braces are doubled to stay text.
        var name = Shown(Cut(field.Name)).Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal);
        var part = field.InName ? $"The name of the field <code>{name}</code>" : $"The value of the field <code>{name}</code>";
        await WriteRefusedFormAsync(context, fallbackPath, stylesheet, field.NotValidIn is { } charset
            ? $"{part} is not valid {charset}, the character set the form declared, so nothing was changed (a browser sends its forms in UTF-8). Open {{0}} again and resend the form."
            : field.DeclaredAscii
                ? $"{part} holds non-ASCII bytes but the form declared itself ASCII, so nothing was changed (a browser sends its forms in UTF-8). Open {{0}} again and resend the form."
                : $"{part} is not valid UTF-8, so nothing was changed (a browser sends its forms in UTF-8). Open {{0}} again and resend the form.");
        return true;
    }

    /// <summary>The first query parameter given more than once, spelt as first given (the collection keeps the last spelling), or null.</summary>
    private static string? RepeatedQueryParameter(HttpRequest request)
    {
        if (!request.Query.Any(parameter => parameter.Value.Count > 1))
        {
            return null;
        }

        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in new Microsoft.AspNetCore.WebUtilities.QueryStringEnumerable(request.QueryString.Value))
        {
            var name = pair.DecodeName().ToString();
            if (!seen.TryAdd(name, name))
            {
                return seen[name];
            }
        }

        return null;
    }

    /// <summary>
    /// After a request no page answered (a mistyped address, an old bookmark): 404 and a page saying there is no such page,
    /// naming the path (cut to <see cref="MaxShownId"/> characters) and linking to <paramref name="root"/>, instead of an
    /// empty 404 that the browser shows as an error of its own, with no way back.
    /// </summary>
    /// <param name="rootName">The root page's name after "Back to" ("the dashboard").</param>
    /// <param name="stylesheet">The site stylesheet's URL as this application serves it.</param>
    public static Task AfterNoPageAsync(HttpContext context, string root, string rootName, string stylesheet)
    {
        if (!context.Items.ContainsKey(WebPages.NoPageItem) || context.Response.HasStarted)
        {
            return Task.CompletedTask;
        }

        var path = Shown(Cut(context.Request.Path.Value ?? ""));
        return WritePageAsync(context, stylesheet, "Page not found", "Page not found", "no-page",
            $"There is no page at <code>{path}</code>. <a href=\"{root}\">Back to {rootName}</a>.");
    }

    /// <summary>
    /// Answers a page about a row the store does not hold: 404 and a page naming it, saying nothing was changed, with a
    /// link to <paramref name="listPath"/>. A row the page showed (<paramref name="shown"/>) is gone: "no … any more",
    /// deleted meanwhile. Any other is not found, named by its id as the request gave it (cut to
    /// <see cref="MaxShownId"/> characters: it may be a made-up one of any length). Without a <paramref name="kind"/>,
    /// <paramref name="name"/> is a whole refusal ("no plan entitlement with id '…'"), shown as a sentence, the id between
    /// its quotes cut the same way.
    /// </summary>
    /// <param name="kind">What it is ("route", "user").</param>
    /// <param name="listName">The list's name after "Back to the" ("routes").</param>
    /// <param name="stylesheet">The site stylesheet's URL as this application serves it.</param>
    public static Task WriteMissingAsync(HttpContext context, string kind, string name, bool shown, string listPath, string listName, string stylesheet)
    {
        var what = System.Net.WebUtility.HtmlEncode(kind);
        var (title, heading, message) = (kind.Length, shown) switch
        {
            (0, _) => ("Not found", "Not found", Shown(Sentence(CutQuoted(name))) + "."),
            (_, true) => ($"No such {what}", $"This {what} no longer exists",
                $"There is no {what} <strong>{Shown(name)}</strong> any more: it may have been deleted through the admin API, the CLI or another session."),
            _ => ($"No such {what}", $"This {what} was not found", $"There is no {what} <strong>{Shown(Cut(name))}</strong>."),
        };
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return WritePageAsync(context, stylesheet, title, heading, "missing-row",
            $"{message} Nothing was changed. <a href=\"{System.Net.WebUtility.HtmlEncode(listPath)}\">Back to the {System.Net.WebUtility.HtmlEncode(listName)}</a>.");
    }

    /// <summary>
    /// Text from the address or the store, HTML-escaped, with characters that are invisible or reorder the text around
    /// them written as their escapes (as the lists show names and the access log paths): a path or id cannot disguise itself.
    /// </summary>
    private static string Shown(string text) => System.Net.WebUtility.HtmlEncode(Core.Routing.RequestPaths.Visible(text));

    /// <summary>
    /// The one-paragraph page every answer here writes, in the sign-in page's frame: <paramref name="title"/>,
    /// <paramref name="heading"/> and <paramref name="paragraph"/> are HTML already (escaped by the caller).
    /// </summary>
    private static Task WritePageAsync(HttpContext context, string stylesheet, string title, string heading, string paragraphId, string paragraph)
    {
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync(
            $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>" +
            $"<link rel=\"stylesheet\" href=\"{stylesheet}\"></head><body><main class=\"ag-login\"><div>" +
            $"<h1>{heading}</h1><p id=\"{paragraphId}\">{paragraph}</p></div></main></body></html>");
    }

    /// <summary>The most characters of an id from the request that a page shows; a longer one is cut, with an ellipsis.</summary>
    public const int MaxShownId = 64;

    private static string Cut(string id) => id.Length > MaxShownId ? Core.Text.TextCut.AtMost(id, MaxShownId) + "…" : id;

    /// <summary>
    /// A refusal with the id the request gave between quotes (<c>no plan entitlement with id '…'</c>, as the services
    /// word it), that id cut as <see cref="Cut"/> cuts it.
    /// </summary>
    private static string CutQuoted(string refusal)
    {
        var open = refusal.IndexOf('\'');
        var close = refusal.LastIndexOf('\'');
        return close - open - 1 > MaxShownId ? refusal[..(open + 1)] + Cut(refusal[(open + 1)..close]) + refusal[close..] : refusal;
    }

    private static string Sentence(string text) => text.Length > 0 ? char.ToUpperInvariant(text[0]) + text[1..] : text;
}

/// <summary>What a form post that cannot be read is: the client's error, answered without an error in the log.</summary>
internal static class FormPosts
{
    /// <summary>
    /// Caps the body a page may read at <paramref name="maxBytes"/>; a longer one answers 413 (<see cref="StatusOf"/>). The
    /// gateway lifts the server's body limit because proxied bodies are streamed, but a page reads its whole form into
    /// memory — for the antiforgery check, before anyone has signed in — and the form reader alone would take up to
    /// 1,024 values of 4 MB each: one post to a login page grew the gateway by 2.5 times its size.
    /// </summary>
    public static void Limit(HttpContext context, long maxBytes)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }
    }

    /// <summary>
    /// True for a body the server could not read (a request limit) or whose form could not be read for its antiforgery
    /// token (malformed, over a form limit). Not for a plain <see cref="InvalidDataException"/>: the store raises that
    /// for a bad stored value, which is the server's error.
    /// </summary>
    public static bool IsClientError(Exception exception) =>
        exception is BadHttpRequestException or AntiforgeryValidationException || exception.InnerException is BadHttpRequestException;

    /// <summary>
    /// True for a body whose <c>Content-Type</c> names a character set that .NET knows but will not decode (UTF-7): the
    /// form reader throws <see cref="NotSupportedException"/> on it. An unknown name is not one: the reader reads UTF-8.
    /// </summary>
    public static bool HasUnusableCharset(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.Charset.HasValue)
        {
            return false;
        }

        try
        {
            _ = type.Encoding;
            return false;
        }
        catch (NotSupportedException)
        {
            return true;
        }
    }

    /// <summary>
    /// Keeps a form post's body for a second read (in memory, on disk past 30 KB, within the limit <see cref="Limit"/>
    /// set): the framework's form reader cannot tell invalid UTF-8 from its escape text, so
    /// <see cref="FieldNotUtf8Async"/> reads the raw bytes again. Call before anything reads the form.
    /// </summary>
    public static void KeepBody(HttpContext context)
    {
        if (HttpMethods.IsPost(context.Request.Method) && context.Request.HasFormContentType)
        {
            context.Request.EnableBuffering();
        }
    }

    /// <summary>
    /// The first field of a form read as UTF-8 (no character set declared, UTF-8, or one .NET does not know, which the
    /// form reader reads as UTF-8, or ASCII) whose name or value, once decoded, is not valid UTF-8 — or, in a form declared
    /// ASCII (<c>charset=us-ascii</c>, <c>ascii</c>), is valid UTF-8 past ASCII, which the form reader turns into
    /// <c>?</c> without a word: its name (percent-decoded as UTF-8, an invalid sequence kept as its escape text), whether
    /// the name itself is the bad part, and whether it is the ASCII declaration that refuses it. In an urlencoded form declared
    /// in any other character set (<see cref="FormText.EscapesAsUtf8"/>) the field with raw bytes that set cannot read (with
    /// the set's name: <c>NotValidIn</c>), else the one with a run of percent escapes that is not valid UTF-8; a multipart
    /// value in such a set (or the one its byte order mark names) with bytes that set cannot read alike. Null for a valid form and a body not kept (<see cref="KeepBody"/>). Urlencoded and multipart forms; a multipart
    /// file is not a field. A multipart form's character set is each part's own: the form reader ignores one given for the
    /// whole body.
    /// </summary>
    public static async Task<(string Name, bool InName, bool DeclaredAscii, string? NotValidIn)?> FieldNotUtf8Async(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!request.HasFormContentType || !request.Body.CanSeek || !MediaTypeHeaderValue.TryParse(request.ContentType, out var type))
        {
            return null;
        }

        var urlEncoded = type.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase);
        if ((urlEncoded ? ReadAs(type) : FormText.Utf8) is not { } text)
        {
            return null;
        }

        request.Body.Position = 0;
        try
        {
            if (urlEncoded)
            {
                using var body = new MemoryStream();
                await request.Body.CopyToAsync(body, cancellationToken);
                var bytes = body.GetBuffer().AsSpan(0, (int)body.Length);
                return text == FormText.EscapesAsUtf8
                    ? UrlEncodedFieldNotInCharset(bytes, type.Encoding!) ?? UrlEncodedEscapeNotUtf8(type.Encoding!.GetString(bytes))
                    : UrlEncodedFieldNotUtf8(bytes, text);
            }

            var boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value;
            if (string.IsNullOrEmpty(boundary))
            {
                return null;
            }

            var reader = new Microsoft.AspNetCore.WebUtilities.MultipartReader(boundary, request.Body);
            while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
            {
                var sectionText = MediaTypeHeaderValue.TryParse(section.ContentType, out var sectionType) ? ReadAs(sectionType) : FormText.Utf8;
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) || !disposition.IsFormDisposition()
                    || sectionText is null)
                {
                    continue; // a file
                }

                using var value = new MemoryStream();
                await section.Body.CopyToAsync(value, cancellationToken);
                var valueBytes = value.GetBuffer().AsSpan(0, (int)value.Length);
                if (sectionText == FormText.EscapesAsUtf8)
                {
                    // A value in a character set of its own has no escapes, but the reader reads bytes that set cannot read
                    // as U+FFFD; it follows a byte order mark over the declared set.
                    var encoding = ByteOrderMarked(valueBytes, out var mark) ?? sectionType!.Encoding!;
                    if (!Reads(Strict(encoding), valueBytes[mark..]))
                    {
                        return (HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "", false, false, encoding.WebName);
                    }
                }
                else if (Misfit(valueBytes, sectionText == FormText.Ascii) is { } misfit)
                {
                    return (HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "", false, misfit == Misread.NotAscii, null);
                }
            }

            return null;
        }
        finally
        {
            request.Body.Position = 0;
        }
    }

    /// <summary>How the form reader decodes a body or a multipart section of <paramref name="type"/>, when it is checked here.</summary>
    private enum FormText
    {
        /// <summary>As UTF-8: none declared, UTF-8, or a name .NET does not know.</summary>
        Utf8,

        /// <summary>As ASCII, every byte past it a <c>?</c>.</summary>
        Ascii,

        /// <summary>
        /// In another character set .NET knows (<c>iso-8859-1</c>, <c>utf-16</c>, <c>utf-32</c>): an urlencoded form's
        /// bytes are read in it, but its percent escapes as UTF-8, a run of them that is not valid UTF-8 kept as its escape
        /// text (<c>%E9</c>). A multipart section in such a set has no escapes: only its bytes are checked in it.
        /// </summary>
        EscapesAsUtf8,
    }

    // As the form reader picks the encoding: none, UTF-8 or an unknown name is read as UTF-8; ASCII as ASCII; any other
    // known character set, one byte a character or more (UTF-16, UTF-32), is decoded in it, its escapes as UTF-8 (UTF-7 is
    // refused before; null for it).
    private static FormText? ReadAs(MediaTypeHeaderValue type)
    {
        try
        {
            return !type.Charset.HasValue ? FormText.Utf8 : type.Encoding switch
            {
                null or { CodePage: 65001 } => FormText.Utf8,
                { CodePage: 20127 } => FormText.Ascii,
                _ => FormText.EscapesAsUtf8,
            };
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Why the form reader would not keep a field's decoded bytes as sent.</summary>
    private enum Misread
    {
        /// <summary>Not valid UTF-8 (kept as its escape text or a replacement character), whatever the form declared.</summary>
        NotUtf8,

        /// <summary>Valid UTF-8 past ASCII in a form declared ASCII (each byte read as <c>?</c>).</summary>
        NotAscii,
    }

    /// <summary>Why decoded field bytes would not read as sent (<paramref name="ascii"/>: the form declared ASCII); null when they would.</summary>
    private static Misread? Misfit(ReadOnlySpan<byte> bytes, bool ascii) =>
        !System.Text.Unicode.Utf8.IsValid(bytes) ? Misread.NotUtf8
        : ascii && !System.Text.Ascii.IsValid(bytes) ? Misread.NotAscii
        : null;

    private static (string Name, bool InName, bool DeclaredAscii, string? NotValidIn)? UrlEncodedFieldNotUtf8(ReadOnlySpan<byte> body, FormText text)
    {
        while (!body.IsEmpty)
        {
            var end = body.IndexOf((byte)'&');
            var pair = end < 0 ? body : body[..end];
            body = end < 0 ? [] : body[(end + 1)..];
            var eq = pair.IndexOf((byte)'=');
            var name = eq < 0 ? pair : pair[..eq];
            var inName = MisfitDecoded(name, text);
            if ((inName ?? (eq >= 0 ? MisfitDecoded(pair[(eq + 1)..], text) : null)) is { } misfit)
            {
                // Named as read as UTF-8: the form reader keeps an invalid sequence as its escape text.
                return (Uri.UnescapeDataString(System.Text.Encoding.UTF8.GetString(name).Replace('+', ' ')), inName is not null, misfit == Misread.NotAscii, null);
            }
        }

        return null;
    }

    /// <summary>
    /// The first field of an urlencoded form in a character set of its own (<see cref="FormText.EscapesAsUtf8"/>), already
    /// read in it as the form reader reads it, with a run of percent escapes that is not valid UTF-8: as
    /// <see cref="UrlEncodedFieldNotUtf8"/>. Its characters are what the set wrote; only the escapes can be misread.
    /// </summary>
    private static (string Name, bool InName, bool DeclaredAscii, string? NotValidIn)? UrlEncodedEscapeNotUtf8(string body)
    {
        foreach (var range in body.AsSpan().Split('&'))
        {
            var pair = body.AsSpan()[range];
            var eq = pair.IndexOf('=');
            var name = eq < 0 ? pair : pair[..eq];
            var inName = MisfitEscapes(name);
            if ((inName ?? (eq >= 0 ? MisfitEscapes(pair[(eq + 1)..]) : null)) is not null)
            {
                return (Uri.UnescapeDataString(name.ToString().Replace('+', ' ')), inName is not null, false, null);
            }
        }

        return null;
    }

    /// <summary>
    /// The first field of an urlencoded form in a character set of its own (<see cref="FormText.EscapesAsUtf8"/>) whose name
    /// or value holds bytes that set cannot read (a lone UTF-16 surrogate, half a character, a UTF-32 value past U+10FFFF),
    /// which the form reader reads as U+FFFD without a word; the set's <see cref="System.Text.Encoding.WebName"/> with it.
    /// Null when every field reads, found with one pass over the body. The fields are split where the form reader splits
    /// them: at the first bytes of the set's '=' from the field's start, then at the next bytes of its '&amp;' — wherever
    /// they are, not only at character boundaries, so two characters whose bytes hold them across their boundary
    /// (U+2600 U+0100 is <c>00 26 00 01</c> in UTF-16LE, holding its '&amp;', <c>26 00</c>) are cut there, and the half
    /// characters on either side read as U+FFFD; and bytes after the last '=' with no '=' of their own are not read at all.
    /// </summary>
    private static (string Name, bool InName, bool DeclaredAscii, string? NotValidIn)? UrlEncodedFieldNotInCharset(ReadOnlySpan<byte> body, System.Text.Encoding encoding)
    {
        var strict = Strict(encoding);
        var amp = encoding.GetBytes("&");
        var eq = encoding.GetBytes("=");
        while (!body.IsEmpty)
        {
            var split = body.IndexOf(eq);
            if (split < 0)
            {
                return null; // the reader drops what follows the last '=' without one of its own
            }

            var name = body[..split];
            body = body[(split + eq.Length)..];
            var end = body.IndexOf(amp);
            var value = end < 0 ? body : body[..end];
            body = end < 0 ? default : body[(end + amp.Length)..];
            var inName = !Reads(strict, name);
            if (inName || !Reads(strict, value))
            {
                return (Uri.UnescapeDataString(encoding.GetString(name).Replace('+', ' ')), inName, false, encoding.WebName);
            }
        }

        return null;
    }

    /// <summary><paramref name="encoding"/> with a decoder that throws instead of replacing what it cannot read.</summary>
    private static System.Text.Encoding Strict(System.Text.Encoding encoding)
    {
        var strict = (System.Text.Encoding)encoding.Clone();
        strict.DecoderFallback = System.Text.DecoderFallback.ExceptionFallback;
        return strict;
    }

    /// <summary>
    /// The set a byte order mark at the start of <paramref name="bytes"/> names, and the mark's length, as the reader of a
    /// multipart value detects it (it reads the value in that set whatever the part declared); null and 0 without one.
    /// </summary>
    private static System.Text.Encoding? ByteOrderMarked(ReadOnlySpan<byte> bytes, out int length)
    {
        (var encoding, length) = bytes switch
        {
            [0xFF, 0xFE, 0x00, 0x00, ..] => (System.Text.Encoding.UTF32, 4),
            [0xFF, 0xFE, ..] => (System.Text.Encoding.Unicode, 2),
            [0xFE, 0xFF, ..] => (System.Text.Encoding.BigEndianUnicode, 2),
            [0xEF, 0xBB, 0xBF, ..] => (System.Text.Encoding.UTF8, 3),
            [0x00, 0x00, 0xFE, 0xFF, ..] => (new System.Text.UTF32Encoding(bigEndian: true, byteOrderMark: true), 4),
            _ => ((System.Text.Encoding?)null, 0),
        };
        return encoding;
    }

    /// <summary>Whether every byte of <paramref name="bytes"/> reads in <paramref name="strict"/> (one whose decoder throws instead of replacing).</summary>
    private static bool Reads(System.Text.Encoding strict, ReadOnlySpan<byte> bytes)
    {
        try
        {
            _ = strict.GetCharCount(bytes);
            return true;
        }
        catch (System.Text.DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>
    /// <see cref="Misfit"/> of <paramref name="encoded"/> decoded: '+' a space and "%XX" a byte (a '%' without two hex digits
    /// kept).
    /// </summary>
    private static Misread? MisfitDecoded(ReadOnlySpan<byte> encoded, FormText text)
    {
        var bytes = encoded.ToArray();
        return Misfit(System.Net.WebUtility.UrlDecodeToBytes(bytes, 0, bytes.Length), text == FormText.Ascii);
    }

    /// <summary>Whether a run of "%XX" escapes in <paramref name="encoded"/> decodes to bytes that are not valid UTF-8.</summary>
    private static Misread? MisfitEscapes(ReadOnlySpan<char> encoded)
    {
        var run = new List<byte>();
        for (var i = 0; i <= encoded.Length; i++)
        {
            if (i + 2 < encoded.Length && encoded[i] == '%' && System.Uri.IsHexDigit(encoded[i + 1]) && System.Uri.IsHexDigit(encoded[i + 2]))
            {
                run.Add((byte)((System.Uri.FromHex(encoded[i + 1]) << 4) | System.Uri.FromHex(encoded[i + 2])));
                i += 2;
                continue;
            }

            if (run.Count > 0 && !System.Text.Unicode.Utf8.IsValid(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(run)))
            {
                return Misread.NotUtf8;
            }

            run.Clear();
        }

        return null;
    }

    /// <summary>The status for <paramref name="exception"/>: the request limit's own (e.g. 413) or 400.</summary>
    public static int StatusOf(Exception exception) =>
        (exception as BadHttpRequestException ?? exception.InnerException as BadHttpRequestException)?.StatusCode ?? StatusCodes.Status400BadRequest;
}
