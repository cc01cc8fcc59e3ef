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
        var query = context.Request.Query;
        if (!TryRead(query, NumberParameter, 1, int.MaxValue, 1, out var number, out var error)
            || !TryRead(query, SizeParameter, 1, MaxSize, DefaultSize, out var size, out error))
        {
            return error!;
        }

        var last = Math.Max(1, (int)((items.Count + (long)size - 1) / size));
        var skip = (long)(number - 1) * size;
        var page = skip >= items.Count ? [] : items.Skip((int)skip).Take(size).ToList();
        var links = new PageLinks(
            Link(context, number, size),
            Link(context, 1, size),
            number > 1 ? Link(context, Math.Min(number - 1, last), size) : null,
            number < last ? Link(context, number + 1, size) : null,
            Link(context, last, size));
        return Results.Json(new ListDocument<T>(page, new ListMeta(items.Count, number, size), links), WireJson.Options, AdminApi.JsonContentType);
    }

    private static bool TryRead(IQueryCollection query, string name, int min, int max, int fallback, out int value, out IResult? error)
    {
        error = null;
        value = fallback;
        if (!query.TryGetValue(name, out var raw))
        {
            return true;
        }

        if (raw.Count != 1 || !int.TryParse(raw[0], NumberStyles.None, CultureInfo.InvariantCulture, out value) || value < min || value > max)
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
            if (key is NumberParameter or SizeParameter)
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
