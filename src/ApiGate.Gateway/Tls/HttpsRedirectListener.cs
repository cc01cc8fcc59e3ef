using System.Globalization;
using System.Net;
using ApiGate.Gateway.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ApiGate.Gateway.Tls;

/// <summary>
/// The plain-HTTP listener of <c>APIGATE_TLS_REDIRECT_LISTEN</c>: every request on it is answered
/// <c>308 Permanent Redirect</c> to the same host, path and query on the TLS port, or on the port
/// <c>APIGATE_TLS_REDIRECT_PORT</c> names (308 keeps the method and body, so a POST stays a POST). Nothing else is served there. Requests are told apart by the local port they arrived on, as for
/// the admin listener: one integer compare per request, and only when the listener is configured.
/// </summary>
internal sealed class HttpsRedirectListener
{
    private readonly Func<int> _httpsPort;
    private int _port;

    /// <param name="address">Where to listen.</param>
    /// <param name="httpsPort">
    /// The port redirects point at: <c>tls.redirect_port</c>, else the TLS port (read per redirect: with port 0 it is
    /// known only once bound).
    /// </param>
    public HttpsRedirectListener(AdminListenAddress address, Func<int> httpsPort)
    {
        Address = address;
        _httpsPort = httpsPort;
        _port = address.Port;
    }

    public AdminListenAddress Address { get; }

    /// <summary>The listener's URL with the bound port.</summary>
    public string Url => Address.Url(Volatile.Read(ref _port));

    public void Listen(KestrelServerOptions kestrel)
    {
        if (Address.Address is null)
        {
            kestrel.ListenLocalhost(Address.Port, Configure);
        }
        else
        {
            kestrel.Listen(Address.Address, Address.Port, Configure);
        }

        void Configure(ListenOptions listen)
        {
            listen.Protocols = HttpProtocols.Http1;
            listen.Use(next => connection =>
            {
                if (connection.LocalEndPoint is IPEndPoint local && Volatile.Read(ref _port) != local.Port)
                {
                    Volatile.Write(ref _port, local.Port);
                }

                return next(connection);
            });
        }
    }

    /// <summary>Middleware: redirects requests that arrived on this listener, passes the rest on.</summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate next) =>
        context.Connection.LocalPort == Volatile.Read(ref _port) ? RedirectAsync(context) : next(context);

    /// <summary>
    /// The redirect target: <c>https://HOST[:PORT]</c> + the request target as sent; null without a Host. The host is
    /// the Host header's as sent (as <c>Pipeline.RequestHost</c> reads it), the one the main port routes on: Kestrel has
    /// already refused a Host that is not a valid authority, so it is ASCII and holds no <c>/</c>, <c>@</c> or line
    /// break. Not <see cref="HttpRequest.Host"/>, which turns punycode labels into Unicode (a header value Kestrel
    /// refuses to send) and throws on a label that is not valid punycode: either made the redirect a 500.
    /// </summary>
    public static string? Location(HttpContext context, int httpsPort)
    {
        var host = new HostString(context.Request.Headers.Host.ToString()).Host;
        if (string.IsNullOrEmpty(host))
        {
            return null;
        }

        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(target) || target[0] != '/')
        {
            // Absolute-form or asterisk-form targets: rebuild from the parsed request.
            target = context.Request.PathBase.Add(context.Request.Path).ToUriComponent() + context.Request.QueryString.ToUriComponent();
            if (target.Length == 0 || target[0] != '/')
            {
                target = "/" + target;
            }
        }

        var port = httpsPort == 443 ? "" : ":" + httpsPort.ToString(CultureInfo.InvariantCulture);
        return "https://" + host + port + target;
    }

    private Task RedirectAsync(HttpContext context)
    {
        var response = context.Response;
        if (Location(context, _httpsPort()) is not { } location)
        {
            response.StatusCode = StatusCodes.Status400BadRequest;
            return Task.CompletedTask;
        }

        response.StatusCode = StatusCodes.Status308PermanentRedirect;
        response.Headers.Location = location;
        response.ContentLength = 0;
        return Task.CompletedTask;
    }
}
