using System.Globalization;
using ApiGate.Core.Management;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// <c>page[number]</c> (1-based, default 1) and <c>page[size]</c> (default 50, at most 500) over a collection, with
/// <c>self</c>/<c>first</c>/<c>prev</c>/<c>next</c>/<c>last</c> links that keep the request's other query parameters.
/// A page past the end is empty, not an error.
/// </summary>
internal static class AdminPaging
{
    public const string NumberParameter = "page[number]";
    public const string SizeParameter = "page[size]";
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
    public static IResult Page<T>(HttpContext context, PageRequest page, IReadOnlyList<T> items, int total)
    {
        var (number, size) = page;
        var last = Math.Max(1, (int)((total + (long)size - 1) / size));
        var links = new PageLinks(
            Link(context, number, size),
            Link(context, 1, size),
            number > 1 ? Link(context, Math.Min(number - 1, last), size) : null,
            number < last ? Link(context, number + 1, size) : null,
            Link(context, last, size));
        return Results.Json(new ListDocument<T>(items, new ListMeta(total, number, size), links), WireJson.Options, AdminApi.JsonContentType);
    }

    /// <summary>The request's <c>page[number]</c> and <c>page[size]</c> (or their defaults); false with a 400 naming a bad one.</summary>
    public static bool TryRead(HttpContext context, out PageRequest page, out IResult? error)
    {
        var query = context.Request.Query;
        page = default;
        if (!TryRead(query, NumberParameter, 1, int.MaxValue, 1, out var number, out error)
            || !TryRead(query, SizeParameter, 1, MaxSize, DefaultSize, out var size, out error))
        {
            return false;
        }

        page = new PageRequest(number, size);
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

    private static string Link(HttpContext context, int number, int size)
    {
        var request = context.Request;
        var parameters = new List<KeyValuePair<string, string?>>();
        foreach (var (key, values) in request.Query)
        {
            // Read ignoring case (as every admin query parameter is), so ?PAGE[size]= is dropped too: kept, the link would give it twice.
            if (key.Equals(NumberParameter, StringComparison.OrdinalIgnoreCase) || key.Equals(SizeParameter, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (var value in (StringValues)values)
            {
                parameters.Add(new(key, value));
            }
        }

        parameters.Add(new(NumberParameter, number.ToString(CultureInfo.InvariantCulture)));
        parameters.Add(new(SizeParameter, size.ToString(CultureInfo.InvariantCulture)));
        return request.PathBase + request.Path + QueryString.Create(parameters);
    }
}

/// <summary>A requested page: its 1-based number and its size.</summary>
internal readonly record struct PageRequest(int Number, int Size)
{
    /// <summary>How many items come before the page.</summary>
    public long Skip => (long)(Number - 1) * Size;
}
