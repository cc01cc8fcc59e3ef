using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// Conditional requests (RFC 9110 §13) on one row that has a version (<see cref="RowVersion"/>): its GET answers an
/// <c>ETag</c> and <c>304</c> to a matching <c>If-None-Match</c>; its writes (PATCH, PUT, DELETE, actions) and GET take
/// <c>If-Match</c> and are refused with <c>412</c> when the row is in another version (<see cref="RowCondition"/>).
/// A write without <see cref="AdminConditional"/> metadata refuses a precondition it cannot honour with a 400 rather
/// than apply the change unconditionally; a read ignores the validators it does not evaluate (<see cref="RefuseUnsupported"/>).
/// </summary>
internal static class AdminConditions
{
    private const string IfMatch = "If-Match";

    private const string IfNoneMatch = "If-None-Match";

    private const string IfUnmodifiedSince = "If-Unmodified-Since";

    /// <summary>
    /// The preconditions a write is refused for where it does not evaluate them. <c>If-Modified-Since</c> is not among
    /// them: it applies to GET and HEAD only, and any other method ignores it (RFC 9110 §13.1.3).
    /// </summary>
    private static readonly string[] Headers = [IfMatch, IfNoneMatch, IfUnmodifiedSince];

    /// <summary>Marks an endpoint of one versioned row as evaluating If-Match (and, for a GET, If-None-Match), for openapi.json too.</summary>
    public static RouteHandlerBuilder Conditional(this RouteHandlerBuilder builder, bool read = false)
    {
        builder.WithMetadata(new AdminConditional(read));
        return read
            ? builder.Produces(StatusCodes.Status304NotModified).Produces<ErrorDocument>(StatusCodes.Status412PreconditionFailed, AdminApi.JsonContentType)
            : builder.Produces<ErrorDocument>(StatusCodes.Status412PreconditionFailed, AdminApi.JsonContentType);
    }

    /// <summary>
    /// Reads <c>If-Match</c>: no condition when it is absent; a 400 naming the header when it is neither <c>*</c> nor a
    /// list of entity tags. Weak tags (<c>W/"…"</c>) are kept out of the list: If-Match compares strongly, so they never match
    /// (they are kept aside, for the refusal to say so).
    /// </summary>
    public static bool TryRead(HttpContext context, out RowCondition? condition, out IResult? error)
    {
        (condition, error) = (null, null);
        var values = context.Request.Headers.IfMatch;
        if (values.Count == 0)
        {
            return true;
        }

        var value = string.Join(",", values.ToArray());
        condition = value.Trim() == "*" ? RowCondition.Any : ParseTags(value) is { } tags ? new RowCondition(tags, WeakTags: ParseTags(value, weakToo: true)) : null;
        error = condition is null ? Malformed(IfMatch, value) : null;
        return error is null;
    }

    /// <summary>The answer of a GET of one row with <paramref name="version"/>: its ETag, then 412 or 304 when a precondition says so, else null (answer 200).</summary>
    public static IResult? Evaluate(HttpContext context, string kind, string reference, DateTimeOffset version)
    {
        var tag = RowVersion.Tag(version);
        context.Response.Headers.ETag = tag;
        if (!TryRead(context, out var condition, out var error))
        {
            return error;
        }

        if (condition?.Refuse(kind, reference, version) is { } stale)
        {
            return AdminErrors.From(stale);
        }

        if (context.Request.Headers.IfNoneMatch.Count == 0)
        {
            return null;
        }

        // If-None-Match compares weakly (RFC 9110 §13.1.2): W/"x" matches "x".
        var noneMatch = string.Join(",", context.Request.Headers.IfNoneMatch.ToArray());
        var tags = noneMatch.Trim() == "*" ? [tag] : ParseTags(noneMatch, weakToo: true);
        return tags is null ? Malformed(IfNoneMatch, noneMatch)
            : tags.Contains(tag, StringComparer.Ordinal) ? Results.StatusCode(StatusCodes.Status304NotModified)
            : null;
    }

    /// <summary>Sends the ETag of the row a write answers with.</summary>
    public static void Tag(HttpContext context, DateTimeOffset version) => context.Response.Headers.ETag = RowVersion.Tag(version);

    /// <summary>
    /// A precondition header on a write that does not evaluate it is refused before anything runs: ignoring it would
    /// apply a change its sender made conditional (a collection, a key, a plan's value have no version). Date preconditions
    /// are not evaluated anywhere: the ETag says more than a time with a resolution of one second (alone on a write,
    /// If-Unmodified-Since is refused; beside If-Match it is ignored). A read (GET, HEAD)
    /// changes nothing, so there the headers it does not evaluate are ignored, as a server without validators does
    /// (RFC 9110 §13.1): a cache or client library that sends <c>If-Modified-Since</c> gets the full answer.
    /// </summary>
    public static Task RefuseUnsupported(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint() is not RouteEndpoint endpoint || HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
        {
            return next(context);
        }

        var conditional = endpoint.Metadata.GetMetadata<AdminConditional>();
        foreach (var header in Headers)
        {
            // If-Unmodified-Since beside an If-Match is ignored (RFC 9110 §13.1.4): the entity tag decides.
            if (!context.Request.Headers.ContainsKey(header) || Evaluated(conditional, header)
                || (header == IfUnmodifiedSince && context.Request.Headers.ContainsKey(IfMatch)))
            {
                continue;
            }

            var why = header == IfUnmodifiedSince
                ? $"the admin API does not evaluate {header}: send If-Match with the ETag that GET of the resource answers"
                : $"{context.Request.Method} {context.Request.PathBase}{context.Request.Path} does not support conditional requests ({header}): only one upstream, route, user, plan, entitlement or webhook has an ETag";
            return AdminErrors.InvalidHeader(header, why).ExecuteAsync(context);
        }

        return next(context);
    }

    private static bool Evaluated(AdminConditional? conditional, string header) => conditional is not null
        && (header == IfMatch || (header == IfNoneMatch && conditional.Read));

    /// <summary>A 400 naming a precondition header that is neither <c>*</c> nor a list of entity tags.</summary>
    private static IResult Malformed(string header, string value) =>
        AdminErrors.InvalidHeader(header,
            $"{header} must be * or entity tags as the ETag header gives them (\"…\", comma-separated), not '{(value.Length > 64 ? value[..64] + "…" : value)}'");

    /// <summary>The strong tags (and with <paramref name="weakToo"/> the weak ones, as their strong form) of an entity-tag list; null when it is not one.</summary>
    private static List<string>? ParseTags(string value, bool weakToo = false)
    {
        var tags = new List<string>();
        var any = false;
        var i = 0;
        while (true)
        {
            while (i < value.Length && value[i] is ' ' or '\t' or ',')
            {
                i++;
            }

            if (i == value.Length)
            {
                return any ? tags : null;
            }

            var weak = string.CompareOrdinal(value, i, "W/", 0, 2) == 0;
            i += weak ? 2 : 0;
            var end = i < value.Length && value[i] == '"' ? value.IndexOf('"', i + 1) : -1;
            if (end < 0 || !IsOpaque(value.AsSpan(i + 1, end - i - 1)))
            {
                return null;
            }

            if (!weak || weakToo)
            {
                tags.Add(value[i..(end + 1)]);
            }

            (any, i) = (true, end + 1);
            while (i < value.Length && value[i] is ' ' or '\t')
            {
                i++;
            }

            if (i < value.Length && value[i] != ',')
            {
                return null;
            }
        }
    }

    /// <summary>Whether every character between a tag's quotes is etagc: visible ASCII but the quote, or obs-text (RFC 9110 §8.8.3).</summary>
    private static bool IsOpaque(ReadOnlySpan<char> opaque)
    {
        foreach (var c in opaque)
        {
            if (c is < '\x21' or '\x7f')
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>An endpoint of one versioned row: it evaluates If-Match, and with <see cref="Read"/> (its GET) If-None-Match (<see cref="AdminConditions"/>).</summary>
internal sealed record AdminConditional(bool Read);
