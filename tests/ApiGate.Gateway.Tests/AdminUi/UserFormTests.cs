using System.Net;
using System.Text.RegularExpressions;
using ApiGate.Core.Management;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's "Add a user" form: a refusal shows the service's message at the field it is about, and nothing is stored.</summary>
public sealed partial class UserFormTests : AdminUiTestBase
{
    private static readonly CancellationToken None = CancellationToken.None;

    [GeneratedRegex("""id="error-(?<field>[a-z_]+)" role="alert">(?<message>[^<]*)<""")]
    private static partial Regex FieldError();

    /// <summary>Sends the form with <paramref name="email"/> and no plan; the status and the one field error the page shows.</summary>
    private async Task<(HttpStatusCode Status, string Field, string Message)> AddUserAsync(string email)
    {
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/users");
        using var response = await console.PostAsync("/ui/users",
            [new("_handler", "create-user"), new("__RequestVerificationToken", antiforgery), new("email", email), new("name", ""), new("plan", "")]);
        var error = Assert.Single(FieldError().Matches(await response.Content.ReadAsStringAsync()));
        return (response.StatusCode, error.Groups["field"].Value, WebUtility.HtmlDecode(error.Groups["message"].Value));
    }

    [Fact]
    public async Task AddUser_EmailNotInNfkcBesideItsPlainForm_ErrorAtTheEmailNamingThePlainFormAndNothingStored()
    {
        // Arrange: a fullwidth "ａ" (U+FF41) reads as the "a" of an existing address
        Assert.True((await Gateway.Users.CreateAsync(new UserChanges { Email = "a@x.io" }, None)).Ok);

        // Act
        var refused = await AddUserAsync("\uff41@x.io");

        // Assert
        Assert.Equal((HttpStatusCode.BadRequest, "email",
                "is not in Unicode normalization form NFKC (it has a look-alike character such as a fullwidth letter): write it as 'a@x.io'"), refused);
        Assert.Equal("a@x.io", Assert.Single(await Gateway.Users.ListAsync(None)).Email);
    }

    [Fact]
    public async Task AddUser_NoPlanWhileNoPlanIsTheDefault_ErrorAtThePlanSayingToMarkOneWithoutNamingACliFlag()
    {
        // Arrange
        Assert.True((await Gateway.Plans.UpdateAsync("free", new PlanInput { IsDefault = false }, None)).Ok);

        // Act
        var refused = await AddUserAsync("ann@example.com");

        // Assert
        Assert.Equal((HttpStatusCode.BadRequest, "plan", "no plan given and no default plan exists: give a plan, or mark a plan as the default"), refused);
        Assert.Empty(await Gateway.Users.ListAsync(None));
    }
}
