using System.Net;
using System.Text.RegularExpressions;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console driven over plain HTTP (no browser): cookies kept by hand, forms posted with or without their antiforgery token.</summary>
internal sealed partial class ConsoleHttp(string baseUrl) : IDisposable
{
    /// <summary>The instance the next requests go to (a test of several instances switches it, as a load balancer would).</summary>
    public string BaseUrl { get; set; } = baseUrl;

    private readonly HttpClient _client = Infrastructure.TestGateway.CreateClient();
    private readonly Dictionary<string, string> _cookies = new(StringComparer.Ordinal);

    public bool HasCookie(string name) => _cookies.ContainsKey(name);

    /// <summary>The value the browser holds for a cookie, or null.</summary>
    public string? Cookie(string name) => _cookies.GetValueOrDefault(name);

    /// <summary>The <c>Cookie</c> header the next request sends (for a request written by hand, <see cref="Infrastructure.RawHttp"/>).</summary>
    public string CookieHeader => string.Join("; ", _cookies.Select(c => c.Key + "=" + c.Value));

    /// <summary>Sends <paramref name="value"/> as the cookie from now on, as a tampering browser would.</summary>
    public void SetCookie(string name, string value) => _cookies[name] = value;

    public async Task<HttpResponseMessage> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, BaseUrl + path);
        return await SendAsync(request);
    }

    /// <summary>The antiforgery token in a page's forms (the first one).</summary>
    public async Task<string> TokenFromAsync(string path)
    {
        using var response = await GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        var match = TokenField().Match(html);
        Assert.True(match.Success, $"no antiforgery token in {path} ({(int)response.StatusCode})");
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    public async Task<HttpResponseMessage> PostAsync(string path, IEnumerable<KeyValuePair<string, string>> fields, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, BaseUrl + path) { Content = new FormUrlEncodedContent(fields) };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await SendAsync(request);
    }

    /// <summary>Posts <paramref name="content"/> as it is, its Content-Type included.</summary>
    public async Task<HttpResponseMessage> PostAsync(string path, HttpContent content)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, BaseUrl + path) { Content = content };
        return await SendAsync(request);
    }

    /// <summary>Signs in through the login form; asserts the redirect to the console.</summary>
    public async Task SignInAsync(string token)
    {
        var antiforgery = await TokenFromAsync("/ui/login");
        using var response = await PostAsync("/ui/login", [new("_handler", "login"), new("__RequestVerificationToken", antiforgery), new("Token", token), new("Return", "/ui")]);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("/ui", PathOf(response));
        Assert.True(HasCookie("apigate_ui_session"));
    }

    /// <summary>The redirect target's path and query (the console may send absolute URLs).</summary>
    public string? PathOf(HttpResponseMessage response) =>
        response.Headers.Location is { } location ? new Uri(new Uri(BaseUrl), location).PathAndQuery : null;

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
    {
        if (_cookies.Count > 0)
        {
            request.Headers.Add("Cookie", string.Join("; ", _cookies.Select(c => c.Key + "=" + c.Value)));
        }

        var response = await _client.SendAsync(request);
        if (response.Headers.TryGetValues("Set-Cookie", out var setCookies))
        {
            foreach (var header in setCookies)
            {
                var pair = header.Split(';', 2)[0];
                var eq = pair.IndexOf('=');
                var (name, value) = (pair[..eq], pair[(eq + 1)..]);
                if (value.Length == 0 || header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase))
                {
                    _cookies.Remove(name);
                }
                else
                {
                    _cookies[name] = value;
                }
            }
        }

        return response;
    }

    public void Dispose() => _client.Dispose();

    /// <summary>The values of <see cref="SecurityHeadersOf"/> on every page of the console and the portal.</summary>
    public static IReadOnlyDictionary<string, string> SecurityHeaders { get; } = new Dictionary<string, string>
    {
        ["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0",
        ["Pragma"] = "no-cache",
        ["Expires"] = "0",
        ["X-Frame-Options"] = "DENY",
        ["X-Content-Type-Options"] = "nosniff",
        ["Referrer-Policy"] = "no-referrer",
        ["Content-Security-Policy"] = Web.Shared.SecurityHeaders.ContentSecurityPolicy,
    };

    /// <summary>The headers every page of the console and the portal carries (ApiGate.Web.Shared.SecurityHeaders), by name, as one response sent them (unparsed).</summary>
    public static IReadOnlyDictionary<string, string> SecurityHeadersOf(HttpResponseMessage response) =>
        new[] { "Cache-Control", "Pragma", "Expires", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy" }
            .ToDictionary(name => name, name => string.Join(", ", response.Headers.NonValidated.TryGetValues(name, out var values) ? values
                : response.Content.Headers.NonValidated.TryGetValues(name, out var contentValues) ? contentValues : []));

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();
}
