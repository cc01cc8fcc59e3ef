using System.Collections.Frozen;
using System.Security.Cryptography;
using ApiGate.Gateway.Portal;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace ApiGate.Web.Shared;

/// <summary>
/// The CSS and JavaScript of the web pages, embedded in this assembly (MudBlazor's stylesheet included) and served by
/// the gateway at <c>/ui/_assets/&lt;name&gt;.&lt;hash&gt;.&lt;ext&gt;</c>: no CDN, and the same files whether the gateway runs
/// from <c>dotnet run</c>, a test host or a published build. The hash in the name changes with the content, so the
/// files are cached for a year.
/// </summary>
public static class EmbeddedAssets
{
    /// <summary>Where the assets are served.</summary>
    public const string BasePath = "/ui/_assets";

    /// <summary>
    /// Where the portal serves its own copy: the portal is on the public listener, where the console's path may not be
    /// served.
    /// </summary>
    public const string PortalBasePath = PortalOptions.BasePath + "/_assets";

    private const string ResourcePrefix = "assets/";

    private static readonly FrozenDictionary<string, Asset> ByName = Load();
    private static readonly byte[] NotFoundBytes = System.Text.Encoding.UTF8.GetBytes(NotFoundText);
    private static readonly FrozenDictionary<string, Asset> ByUrl = ByName.Values.ToFrozenDictionary(a => a.Url, StringComparer.Ordinal);

    /// <summary>The fingerprinted URL of an embedded asset (<c>site.css</c> → <c>/ui/_assets/site.1a2b3c4d5e.css</c>).</summary>
    public static string Url(string name) =>
        ByName.TryGetValue(name, out var asset) ? asset.Url : throw new ArgumentException($"no embedded asset named {name}", nameof(name));

    /// <summary>The fingerprinted URL of an embedded asset in the portal's copy (<c>/portal/_assets/site.1a2b3c4d5e.css</c>).</summary>
    public static string PortalUrl(string name) => PortalBasePath + Url(name)[BasePath.Length..];

    /// <summary>The body of the answer to an address that holds no asset (an old fingerprint, a mistyped name).</summary>
    public const string NotFoundText = "Not found: there is no asset at this address.\n";

    /// <summary>
    /// Answers a request for an asset: 200 with the bytes, or 404 with a one-line text and the pages' security headers
    /// (<see cref="SecurityHeaders"/>: never cached, not framed, not sniffed), as any page of the console or portal.
    /// </summary>
    public static Task ServeAsync(HttpContext context)
    {
        var response = context.Response;
        var isHead = HttpMethods.IsHead(context.Request.Method);
        if (!ByUrl.TryGetValue(context.Request.Path.Value ?? "", out var asset) || !(HttpMethods.IsGet(context.Request.Method) || isHead))
        {
            SecurityHeaders.Apply(response);
            response.StatusCode = StatusCodes.Status404NotFound;
            response.ContentType = "text/plain; charset=utf-8";
            response.ContentLength = NotFoundBytes.Length;
            return isHead ? Task.CompletedTask : response.Body.WriteAsync(NotFoundBytes).AsTask();
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = asset.ContentType;
        response.Headers.CacheControl = "public, max-age=31536000, immutable";
        response.Headers.ETag = asset.ETag;
        response.Headers[HeaderNames.XContentTypeOptions] = "nosniff";
        response.ContentLength = asset.Bytes.Length;
        return isHead ? Task.CompletedTask : response.Body.WriteAsync(asset.Bytes).AsTask();
    }

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(EmbeddedAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var name = resource[ResourcePrefix.Length..];
            var hash = Convert.ToHexStringLower(SHA256.HashData(bytes))[..12];
            var dot = name.LastIndexOf('.');
            var url = $"{BasePath}/{name[..dot]}.{hash}{name[dot..]}";
            assets[name] = new Asset(url, bytes, ContentTypeOf(name), $"\"{hash}\"");
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentTypeOf(string name) => Path.GetExtension(name) switch
    {
        ".css" => "text/css; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };

    private sealed record Asset(string Url, byte[] Bytes, string ContentType, string ETag);
}
