using System.Net;
using System.Text.RegularExpressions;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>Posting a server-rendered form as a browser does: get the page, take its antiforgery token, post the fields.</summary>
internal static partial class FormPosts
{
    /// <summary>Gets <paramref name="url"/>, then posts its form <paramref name="form"/> with the antiforgery token and <paramref name="fields"/>.</summary>
    public static async Task<HttpResponseMessage> PostAsync(HttpClient client, string url, string form, params (string Name, string Value)[] fields) =>
        (await PostTimedAsync(client, url, form, fields)).Response;

    /// <summary>As <see cref="PostAsync"/>, and how long the post alone took (the page's GET before it not counted).</summary>
    public static async Task<(HttpResponseMessage Response, TimeSpan Took)> PostTimedAsync(HttpClient client, string url, string form, params (string Name, string Value)[] fields)
    {
        var page = await client.GetStringAsync(url);
        var values = new List<KeyValuePair<string, string>> { new("__RequestVerificationToken", TokenIn(page, url)), new("_handler", form) };
        values.AddRange(fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var response = await client.PostAsync(url, new FormUrlEncodedContent(values));
        return (response, System.Diagnostics.Stopwatch.GetElapsedTime(started));
    }

    /// <summary>The antiforgery token of the first form in <paramref name="page"/> (fails the test when there is none).</summary>
    public static string TokenIn(string page, string where)
    {
        var token = AntiforgeryField().Match(page);
        Assert.True(token.Success, "no antiforgery token on " + where);
        return WebUtility.HtmlDecode(token.Groups[1].Value);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
