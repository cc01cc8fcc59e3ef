using System.Globalization;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// <c>page[number]</c> (1-based, default 1) and <c>page[size]</c> (default 50, at most 500) over a collection, with
/// <c>self</c>/<c>first</c>/<c>prev</c>/<c>next</c>/<c>last</c> links that keep the request's other query parameters.
/// A page past the end is empty, not an error. The lists read from the store a page at a time (users, keys, the recent
/// usage, the audit trail) also take
/// <c>page[after]</c>: an opaque cursor (<c>meta.next_cursor</c> of the page before) from which the page continues
/// whatever was added or removed since.
/// </summary>
internal static class AdminPaging
{
    public const string NumberParameter = "page[number]";
    public const string SizeParameter = "page[size]";
    public const string AfterParameter = "page[after]";
    public const int DefaultSize = 50;
    public const int MaxSize = 500;

    /// <summary>One page of <paramref name="items"/> as a list document, or a 400 naming a bad page parameter.</summary>
    public static IResult Page<T>(HttpContext context, IReadOnlyList<T> items)
    {
        if (!TryRead(context, out var page, out var error))
        {
            return error!;
        }

        var selected = page.Skip >= items.Count ? [] : items.Skip((int)page.Skip).Take(page.Size).ToList();
        return Page(context, page, selected, items.Count);
    }

    /// <summary>
    /// The list document of a page read by the caller (only its items, e.g. with LIMIT/OFFSET in SQL) out of
    /// <paramref name="total"/> items: the same document <see cref="Page{T}(HttpContext, IReadOnlyList{T})"/> gives.
    /// </summary>
    public static IResult Page<T>(HttpContext context, PageRequest page, IReadOnlyList<T> items, int total) =>
        Page(context, page, new StorePage<T>(items, total), cursorKind: null);

    /// <summary>
    /// The list document of a page read from the store by <paramref name="page"/>'s number or cursor: on a list read by
    /// cursor (<paramref name="cursorKind"/> names it, so one list's cursor is refused by another), with
    /// <c>meta.next_cursor</c> and a <c>next</c> link continuing from it.
    /// </summary>
    public static IResult Page<T>(HttpContext context, PageRequest page, StorePage<T> found, string? cursorKind)
    {
        var (number, size, after) = page;
        var total = found.Total;
        var last = Math.Max(1, (int)((total + (long)size - 1) / size));
        var nextCursor = cursorKind is not null && found.Next is { } next ? ListCursors.Encode(cursorKind, next) : null;
        // On a list read by cursor, next continues from the cursor even from a numbered page: a client following next
        // links then sees every item once while the list changes. Its end is where the store found no further item.
        var nextLink = cursorKind is null
            ? number < last ? Link(context, number + 1, size) : null
            : nextCursor is null ? null : Link(context, size, (AfterParameter, nextCursor));
        var links = after is null
            ? new PageLinks(
                Link(context, number, size),
                Link(context, 1, size),
                number > 1 ? Link(context, Math.Min(number - 1, last), size) : null,
                nextLink,
                Link(context, last, size))
            : new PageLinks(
                Link(context, size, (AfterParameter, context.Request.Query[AfterParameter].ToString())),
                Link(context, 1, size),
                Prev: null, // a cursor reads forwards only
                nextLink,
                Link(context, last, size));
        var meta = new ListMeta(total, after is null ? number : null, size, nextCursor);
        return Results.Json(new ListDocument<T>(found.Items, meta, links), WireJson.Options, AdminApi.JsonContentType);
    }

    /// <summary>The request's <c>page[number]</c> and <c>page[size]</c> (or their defaults); false with a 400 naming a bad one.</summary>
    public static bool TryRead(HttpContext context, out PageRequest page, out IResult? error) => TryRead(context, cursorKind: null, out page, out error);

    /// <summary>
    /// <see cref="TryRead(HttpContext, out PageRequest, out IResult?)"/> for a list that also takes <c>page[after]</c>: a
    /// cursor this API gave for the list <paramref name="cursorKind"/> names, instead of a page number (on a
    /// <paramref name="windowed"/> list, the newest <c>limit</c> rows, one that carries the rows of the window left).
    /// </summary>
    public static bool TryRead(HttpContext context, string? cursorKind, out PageRequest page, out IResult? error, bool windowed = false)
    {
        var query = context.Request.Query;
        page = default;
        if (!TryRead(query, NumberParameter, 1, int.MaxValue, 1, out var number, out error)
            || !TryRead(query, SizeParameter, 1, MaxSize, DefaultSize, out var size, out error))
        {
            return false;
        }

        ListCursor? after = null;
        if (cursorKind is not null && query.TryGetValue(AfterParameter, out var cursor))
        {
            if (query.ContainsKey(NumberParameter))
            {
                error = AdminErrors.InvalidParameter(AfterParameter,
                    $"{AfterParameter} and {NumberParameter} cannot be given together: a page continues from a cursor or is counted from the start");
                return false;
            }

            if (cursor.Count != 1 || ListCursors.Decode(cursorKind, cursor[0], windowed) is not { } decoded)
            {
                error = AdminErrors.InvalidParameter(AfterParameter,
                    $"{AfterParameter} must be a cursor this list gave (meta.next_cursor of the page before), passed unchanged");
                return false;
            }

            after = decoded;
        }

        page = new PageRequest(number, size, after);
        return true;
    }

    private static bool TryRead(IQueryCollection query, string name, int min, int max, int fallback, out int value, out IResult? error)
    {
        error = null;
        value = fallback;
        if (!query.TryGetValue(name, out var raw))
        {
            return true;
        }

        if (raw.Count == 1 && max == int.MaxValue && raw[0] is { Length: > 0 } digits && digits.AsSpan().IndexOfAnyExceptInRange('0', '9') < 0
            && !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            // A page number too large for an int is past the last page: empty, as any page past the last is.
            value = int.MaxValue;
            return true;
        }

        // int.TryParse reads trailing NULs as the end of the text ("5\0" as 5): a value holding one is no number.
        if (raw.Count != 1 || raw[0]!.Contains('\0', StringComparison.Ordinal)
            || !int.TryParse(raw[0], NumberStyles.None, CultureInfo.InvariantCulture, out value) || value < min || value > max)
        {
            error = AdminErrors.InvalidParameter(name, max == int.MaxValue
                ? $"{name} must be a whole number, {min} or more"
                : $"{name} must be a whole number from {min} to {max}");
            return false;
        }

        return true;
    }

    private static string Link(HttpContext context, int number, int size) =>
        Link(context, size, (NumberParameter, number.ToString(CultureInfo.InvariantCulture)));

    /// <summary>The request's URL with <paramref name="position"/> (a page number or a cursor) and <paramref name="size"/> as its paging.</summary>
    private static string Link(HttpContext context, int size, (string Name, string Value) position)
    {
        var request = context.Request;
        var parameters = new List<KeyValuePair<string, string?>>();
        foreach (var (key, values) in request.Query)
        {
            // Read ignoring case (as every admin query parameter is), so ?PAGE[size]= is dropped too: kept, the link would give it twice.
            if (key.Equals(NumberParameter, StringComparison.OrdinalIgnoreCase) || key.Equals(SizeParameter, StringComparison.OrdinalIgnoreCase)
                || key.Equals(AfterParameter, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (var value in (StringValues)values)
            {
                parameters.Add(new(key, value));
            }
        }

        parameters.Add(new(position.Name, position.Value));
        parameters.Add(new(SizeParameter, size.ToString(CultureInfo.InvariantCulture)));
        return request.PathBase + request.Path + QueryString.Create(parameters);
    }
}

/// <summary>A requested page: its 1-based number (or the cursor it continues from) and its size.</summary>
internal readonly record struct PageRequest(int Number, int Size, ListCursor? After = null)
{
    /// <summary>How many items come before the page.</summary>
    public long Skip => (long)(Number - 1) * Size;
}
