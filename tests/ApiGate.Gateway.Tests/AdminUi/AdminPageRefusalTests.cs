using ApiGate.Core.Management;
using ApiGate.Web.Admin;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// A console page's refused change about something the store does not hold, when the page has no row of its own to name
/// (<c>Refused(ManagementError)</c>): answered 404 through the console's 404 page (its <see cref="MissingRow"/>), not a
/// bare 404 status, whose page the framework renders without a body. No console page meets one but by a race (a plan's
/// entitlement value deleted between the page's read and its write), so the page is rendered here on its own.
/// </summary>
public sealed class AdminPageRefusalTests
{
    /// <summary>A console page whose change is refused with <see cref="Error"/>.</summary>
    private sealed class RefusedPage : AdminPage
    {
        [Parameter]
        public ManagementError Error { get; set; } = default!;

        protected override void OnInitialized() => Refused(Error);
    }

    private sealed class ConsoleNavigation : NavigationManager
    {
        public ConsoleNavigation() => Initialize("http://127.0.0.1/", "http://127.0.0.1/ui/entitlements?plan=pro");
    }

    /// <summary>Renders <see cref="RefusedPage"/> for <paramref name="context"/>, as the console renders its pages.</summary>
    private static async Task RenderAsync(HttpContext context, ManagementError error)
    {
        await using var services = new ServiceCollection()
            .AddSingleton<NavigationManager, ConsoleNavigation>()
            .AddSingleton<IDataProtectionProvider>(new EphemeralDataProtectionProvider())
            .AddSingleton(new ApiGate.Gateway.Identity.AttemptCounter(null!, TimeProvider.System)) // every console page has one; this page posts no create form, so it never reads the store
            .BuildServiceProvider();
        await ConsolePageRenderer.RenderAsync<RefusedPage>(services, context, new Dictionary<string, object?> { [nameof(RefusedPage.Error)] = error });
    }

    [Fact]
    public async Task Refused_NotFoundWithoutARowOfThePage_404WithTheConsolePageSayingWhatIsNotThereAndLinkingBack()
    {
        // Arrange
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Post;
        context.Request.Path = "/ui/entitlements";
        context.Request.QueryString = new QueryString("?plan=pro");

        // Act
        await RenderAsync(context, new ManagementError(ManagementErrorKind.NotFound, "", "no plan entitlement with id 'pe_1'"));

        // Assert
        var missing = context.Features.Get<MissingRow>();
        Assert.Equal((404, "", "no plan entitlement with id 'pe_1'", "/ui/entitlements?plan=pro", "page"),
            (context.Response.StatusCode, missing?.Kind, missing?.Name, missing?.ListPath, missing?.ListName));
    }

    [Fact]
    public async Task MissingPage_ForARefusalWithoutARow_404SayingTheRefusalAsASentenceEscapedWithALinkBackToThePage()
    {
        // Arrange
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();
        var row = MissingRow.Refused("no plan entitlement with id '<pe_1>'", "/ui/entitlements?plan=pro&x=1");

        // Act
        var (status, message) = await WriteMissingAsync(context, row);

        // Assert
        Assert.Equal((System.Net.HttpStatusCode.NotFound,
            "No plan entitlement with id &#39;&lt;pe_1&gt;&#39;. Nothing was changed. <a href=\"/ui/entitlements?plan=pro&amp;x=1\">Back to the page</a>."), (status, message));
    }

    [Fact]
    public async Task MissingPage_ForARefusalNamingALongMadeUpId_TheIdCutTo64CharactersAndEscaped()
    {
        // Arrange
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();
        var row = MissingRow.Refused($"no plan entitlement with id '{MissingRowTests.LongMadeUpId}'", "/ui/entitlements?plan=pro");

        // Act
        var (status, message) = await WriteMissingAsync(context, row);

        // Assert
        Assert.Equal((System.Net.HttpStatusCode.NotFound,
            $"No plan entitlement with id &#39;{MissingRowTests.LongMadeUpIdShown}&#39;. Nothing was changed. <a href=\"/ui/entitlements?plan=pro\">Back to the page</a>."),
            (status, message));
    }

    /// <summary>Writes the console's 404 page for <paramref name="row"/> and reads back its status and message.</summary>
    private static async Task<(System.Net.HttpStatusCode Status, string Message)> WriteMissingAsync(HttpContext context, MissingRow row)
    {
        await ApiGate.Web.Shared.PageFailures.WriteMissingAsync(context, row.Kind, row.Name, row.Shown, row.ListPath, row.ListName!, "/site.css");
        context.Response.Body.Position = 0;
        return await MissingRowTests.AnswerAsync(new HttpResponseMessage((System.Net.HttpStatusCode)context.Response.StatusCode)
        {
            Content = new StreamContent(context.Response.Body),
        });
    }

    [Fact]
    public async Task Refused_Conflict_409WithThePageItself()
    {
        // Arrange
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Post;
        context.Request.Path = "/ui/entitlements";

        // Act
        await RenderAsync(context, new ManagementError(ManagementErrorKind.Conflict, "", "changed meanwhile; try again"));

        // Assert
        Assert.Equal((409, null), (context.Response.StatusCode, context.Features.Get<MissingRow>()));
    }
}
