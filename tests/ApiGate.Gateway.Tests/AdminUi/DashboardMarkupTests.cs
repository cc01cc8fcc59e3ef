using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// Names shown as chart labels on the dashboard are text: the chart writes its labels into the SVG as given, so
/// markup in a route name must arrive encoded, not as elements — also when the label is cut short for its length.
/// (Emails with markup characters are refused when written.)
/// </summary>
public sealed class DashboardMarkupTests
{
    [Fact]
    public async Task Dashboard_RouteNameWithMarkup_LabelEncoded()
    {
        // Arrange: traffic by a user and on a route whose names hold markup.
        await using var upstream = await TestUpstream.StartAsync();
        await using var gateway = await TestGateway.StartAsync();
        const string routeName = "<meta http-equiv=refresh content=0;url=/x>";
        const string email = "markup@example.com";
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = routeName, Path = "/api/*", Upstream = "backend", AuthRequired = true });
        var (key, _, _) = await gateway.CreateKeyAsync(email);
        using var call = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/api/x");
        call.Headers.Add("X-API-Key", key);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(call)).StatusCode);
        var token = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("markup", CancellationToken.None)).Value!.Token;
        using var console = new ConsoleHttp(gateway.Url);
        await console.SignInAsync(token);

        // Act: the dashboard once the request's usage is stored and shown by route and by user (batches land within a
        // second; bounded: on a loaded box one chart was there before the other)
        var html = "";
        for (var attempt = 0; attempt < 50 && !html.Contains("chart-top-routes\"", StringComparison.Ordinal) | !html.Contains("http-equiv=refres", StringComparison.Ordinal)
             | !html.Contains(email, StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(100);
            using var page = await console.GetAsync("/ui");
            html = await page.Content.ReadAsStringAsync();
        }

        // Assert
        Assert.Contains("&lt;meta http-equiv=refres…", html, StringComparison.Ordinal);
        Assert.Contains("markup@example.com", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<meta http-equiv", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("&amp;lt;", html, StringComparison.Ordinal); // encoded once, not twice
    }
}
