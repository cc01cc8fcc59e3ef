using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace ApiGate.Gateway.Tests.Memory;

/// <summary>
/// A gateway maps only the libraries of the features it uses: one with no expression on any route, no mail set up and
/// no JWT issuer never loads the JavaScript engine, the mail or the token libraries (each up to a megabyte or more of resident memory, plus the
/// engine's time-zone tables), however much traffic it serves; one whose console and portal are on maps the page
/// libraries only once a page is asked for. Checked on a real <c>apigate serve</c> process through the files it has
/// mapped (<c>/proc/PID/maps</c>).
/// </summary>
public sealed class LoadedLibrariesTests : ServeProcessTestBase
{
    [Fact]
    public async Task Serve_WithoutExpressionsMailOrJwtIssuer_NeverMapsTheScriptEngineMailOrTokenLibraries()
    {
        // Arrange: a public and a key-protected route, neither with an expression; no SMTP settings.
        var store = Temp.Store;
        Assert.True((await new UpstreamService(store, TimeProvider.System).CreateAsync((new UpstreamInput { Name = "backend", Url = Upstream.Url }).Parsed(), CancellationToken.None)).Ok);
        var routes = new RouteService(store, TimeProvider.System);
        Assert.True((await routes.CreateAsync(new RouteChanges { Name = "public", Path = "/public/*", Upstream = "backend", AuthRequired = false }, CancellationToken.None)).Ok);
        Assert.True((await routes.CreateAsync(new RouteChanges { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true }, CancellationToken.None)).Ok);
        Assert.True((await new UserService(store, TimeProvider.System).CreateAsync(new UserChanges { Email = "libs@example.com" }, CancellationToken.None)).Ok);
        var key = (await new KeyService(store, TimeProvider.System).CreateAsync(new KeyChanges { User = "libs@example.com" }, CancellationToken.None)).Value!.FullKey;
        SqliteConnection.ClearAllPools();

        using var serve = ServeProcess.Start(Temp.DatabasePath);
        using var client = TestGateway.CreateClient();
        await serve.WaitUntilReadyAsync(client);

        // Act: every kind of request a plain gateway answers.
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(serve.Url + "/public/x")).StatusCode);
            using var keyed = new HttpRequestMessage(HttpMethod.Get, serve.Url + "/private/x");
            keyed.Headers.Add("X-API-Key", key);
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(keyed)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync(serve.Url + "/private/x")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(serve.Url + "/nowhere")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(serve.Url + "/metrics")).StatusCode);
        }

        var mapped = await MappedFilesAsync(serve);

        // Assert: the proxy's own libraries are there (the check sees what it should), the unused ones are not.
        Assert.Contains("Yarp.ReverseProxy.dll", mapped);
        Assert.Contains("ApiGate.Core.dll", mapped);
        Assert.DoesNotContain("Jint.dll", mapped);
        Assert.DoesNotContain("Acornima.dll", mapped);
        Assert.DoesNotContain("MailKit.dll", mapped);
        Assert.DoesNotContain("MimeKit.dll", mapped);
        Assert.DoesNotContain("Microsoft.IdentityModel.Tokens.dll", mapped); // no JWT issuer set
        Assert.DoesNotContain("Microsoft.IdentityModel.JsonWebTokens.dll", mapped);
    }

    [Fact]
    public async Task Serve_ConsoleAndPortalOn_MapTheirPageLibrariesOnlyOnceAPageIsServed()
    {
        // Arrange: the console (on by default) and the portal on, and proxied traffic only
        Assert.True((await new UpstreamService(Temp.Store, TimeProvider.System).CreateAsync((new UpstreamInput { Name = "backend", Url = Upstream.Url }).Parsed(), CancellationToken.None)).Ok);
        Assert.True((await new RouteService(Temp.Store, TimeProvider.System).CreateAsync(new RouteChanges { Name = "public", Path = "/public/*", Upstream = "backend", AuthRequired = false }, CancellationToken.None)).Ok);
        SqliteConnection.ClearAllPools();
        using var serve = ServeProcess.Start(Temp.DatabasePath, new Dictionary<string, string> { ["APIGATE_PORTAL_ENABLED"] = "true" });
        using var client = TestGateway.CreateClient();
        await serve.WaitUntilReadyAsync(client);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(serve.Url + "/public/x")).StatusCode);
        }

        // Act
        var beforeAnyPage = await MappedFilesAsync(serve);
        using var console = await client.GetAsync(serve.Url + "/ui/login");
        using var portal = await client.GetAsync(serve.Url + "/portal/login");
        var afterPages = await MappedFilesAsync(serve);

        // Assert: the page libraries arrive with the first page, and the pages work
        Assert.Equal(HttpStatusCode.OK, console.StatusCode);
        Assert.Contains("sign-in", await console.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, portal.StatusCode);
        string[] pageLibraries = ["MudBlazor.dll", "Microsoft.AspNetCore.Components.dll", "Microsoft.AspNetCore.Components.Endpoints.dll", "Microsoft.AspNetCore.DataProtection.dll", "Microsoft.AspNetCore.Antiforgery.dll"];
        Assert.Contains("ApiGate.Web.dll", beforeAnyPage);
        Assert.All(pageLibraries, library => Assert.DoesNotContain(library, beforeAnyPage));
        Assert.All(pageLibraries, library => Assert.Contains(library, afterPages));
    }

    private static async Task<HashSet<string>> MappedFilesAsync(ServeProcess serve) =>
        (await File.ReadAllLinesAsync($"/proc/{serve.Process.Id}/maps"))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6)
            .Select(fields => Path.GetFileName(fields[5]))
            .ToHashSet(StringComparer.Ordinal);
}
