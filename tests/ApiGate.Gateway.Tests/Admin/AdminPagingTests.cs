using System.Net;
using System.Text.Json;
using ApiGate.Core.Storage;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>Collections page with <c>page[number]</c>/<c>page[size]</c> and link to their other pages.</summary>
public sealed class AdminPagingTests : AdminTestBase
{
    [Fact]
    public async Task List_PageOfMany_ReturnsThatPageAndLinks()
    {
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await PostAsync("/users", new { email = $"user{i}@example.com" })).Status);
        }

        var first = await GetAsync("/users?page[size]=2");
        var second = await GetAsync("/users?page%5Bnumber%5D=2&page%5Bsize%5D=2");
        var last = await GetAsync("/users?page[number]=3&page[size]=2");
        var beyond = await GetAsync("/users?page[number]=9&page[size]=2");

        Assert.Equal(2, AssertData(first).GetArrayLength());
        Assert.Equal(5, first.Json.GetProperty("meta").GetProperty("total").GetInt32());
        var links = first.Json.GetProperty("links");
        Assert.Equal(JsonValueKind.Null, links.GetProperty("prev").ValueKind);
        Assert.Equal($"/admin/users?page%5Bafter%5D={first.Json.GetProperty("meta").GetProperty("next_cursor").GetString()}&page%5Bsize%5D=2",
            links.GetProperty("next").GetString());
        Assert.Equal("/admin/users?page%5Bnumber%5D=3&page%5Bsize%5D=2", links.GetProperty("last").GetString());
        Assert.Equal("/admin/users?page%5Bnumber%5D=1&page%5Bsize%5D=2", links.GetProperty("first").GetString());

        var secondEmails = AssertData(second).EnumerateArray().Select(u => u.GetProperty("email").GetString()).ToList();
        Assert.Equal(2, secondEmails.Count);
        Assert.DoesNotContain(AssertData(first)[0].GetProperty("email").GetString(), secondEmails);
        Assert.Equal("/admin/users?page%5Bnumber%5D=1&page%5Bsize%5D=2", second.Json.GetProperty("links").GetProperty("prev").GetString());

        Assert.Single(AssertData(last).EnumerateArray().ToList());
        Assert.Equal(JsonValueKind.Null, last.Json.GetProperty("links").GetProperty("next").ValueKind);
        Assert.Equal(0, AssertData(beyond).GetArrayLength());
        Assert.Equal(5, beyond.Json.GetProperty("meta").GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task ListUsers_Q_PagesOnlyUsersWhoseEmailContainsItIgnoringCase()
    {
        foreach (var email in new[] { "ann@example.com", "Anna@example.com", "bob@example.com", "joanne@example.com" })
        {
            Assert.Equal(HttpStatusCode.Created, (await PostAsync("/users", new { email })).Status);
        }

        var first = await GetAsync("/users?q=ANN&page[size]=2");
        var second = await GetAsync("/users?q=ANN&page[number]=2&page[size]=2");

        Assert.Equal(["ann@example.com", "Anna@example.com"], AssertData(first).EnumerateArray().Select(u => u.GetProperty("email").GetString()));
        Assert.Equal(["joanne@example.com"], AssertData(second).EnumerateArray().Select(u => u.GetProperty("email").GetString()));
        Assert.Equal(3, first.Json.GetProperty("meta").GetProperty("total").GetInt32());
        Assert.Equal($"/admin/users?q=ANN&page%5Bafter%5D={first.Json.GetProperty("meta").GetProperty("next_cursor").GetString()}&page%5Bsize%5D=2",
            first.Json.GetProperty("links").GetProperty("next").GetString());
    }

    [Fact]
    public async Task ListKeys_PagesOfTwoOverFive_NewestFirstWithTheTotal()
    {
        await PostAsync("/users", new { email = "dev@example.com" });
        var created = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            created.Add(AssertData(await PostAsync("/keys", new { user = "dev@example.com", name = $"k{i}" }), HttpStatusCode.Created).GetProperty("id").GetString()!);
        }

        var ids = new List<string>();
        foreach (var number in new[] { 1, 2, 3 })
        {
            var page = await GetAsync($"/keys?page[number]={number}&page[size]=2");
            Assert.Equal(5, page.Json.GetProperty("meta").GetProperty("total").GetInt32());
            ids.AddRange(AssertData(page).EnumerateArray().Select(k => k.GetProperty("id").GetString()!));
        }

        var expected = new List<string>(created);
        expected.Reverse();
        Assert.Equal(expected, ids);
    }

    [Fact]
    public async Task List_FollowingNextLinks_VisitsEveryItemOnce()
    {
        for (var i = 0; i < 7; i++)
        {
            await PostAsync("/entitlements", new { name = $"flag_{i}" });
        }

        var seen = new List<string>();
        string? next = "/entitlements?page[size]=3";
        for (var page = 0; next is not null && page < 10; page++)
        {
            var response = await GetAsync(next);
            seen.AddRange(AssertData(response).EnumerateArray().Select(e => e.GetProperty("name").GetString()!));
            next = response.Json.GetProperty("links").GetProperty("next").GetString()?["/admin".Length..];
        }

        Assert.Equal(7, seen.Distinct().Count());
        Assert.Equal(7, seen.Count);
    }

    [Fact]
    public async Task List_OtherQueryParameters_AreKeptInLinks()
    {
        await PostAsync("/users", new { email = "dev@example.com" });
        await PostAsync("/keys", new { user = "dev@example.com" });

        var response = await GetAsync("/keys?user=dev%40example.com&page[size]=1");

        Assert.Equal("/admin/keys?user=dev@example.com&page%5Bnumber%5D=1&page%5Bsize%5D=1", response.Json.GetProperty("links").GetProperty("self").GetString());
    }

    [Fact]
    public async Task List_PageParametersWrittenInAnotherCase_AreReplacedInLinksSoFollowingThemWorks()
    {
        // Arrange
        for (var i = 0; i < 3; i++)
        {
            await PostAsync("/entitlements", new { name = $"flag_{i}" });
        }

        var first = await GetAsync("/entitlements?PAGE[Size]=2&Page[NUMBER]=1");

        // Act
        var next = first.Json.GetProperty("links").GetProperty("next").GetString()!;
        var second = await GetAsync(next["/admin".Length..]);

        // Assert
        Assert.Equal("/admin/entitlements?page%5Bnumber%5D=2&page%5Bsize%5D=2", next);
        Assert.Single(AssertData(second).EnumerateArray());
    }

    [Theory]
    [InlineData("page[size]=0", "page[size]")]
    [InlineData("page[size]=501", "page[size]")]
    [InlineData("page[size]=ten", "page[size]")]
    [InlineData("page[number]=0", "page[number]")]
    [InlineData("page[number]=-1", "page[number]")]
    [InlineData("page[number]=1&page[number]=2", "page[number]")]
    public async Task List_BadPageParameter_Returns400NamingIt(string query, string parameter)
    {
        AssertError(await GetAsync("/plans?" + query), HttpStatusCode.BadRequest, "invalid_parameter", parameter: parameter);
    }

    [Theory]
    [InlineData("/users?page[number]={0}&page[size]=2")]
    [InlineData("/usage/recent?user=far@example.com&limit=10000&page[number]={0}&page[size]=500")]
    public async Task List_PageNumberPastTheLargestInt_ReturnsAnEmptyPage(string path)
    {
        // Arrange
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/users", new { email = "far@example.com" })).Status);

        // Act: whole numbers past the last page, too large for an int
        var beyond = await GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, path, "2147483648"));
        var farBeyond = await GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, path, "99999999999999999999"));

        // Assert: a page past the last is empty, not an error (nor "must be a whole number, 1 or more", which they are)
        Assert.Equal(0, AssertData(beyond).GetArrayLength());
        Assert.Equal(0, AssertData(farBeyond).GetArrayLength());
        Assert.Equal(JsonValueKind.Null, beyond.Json.GetProperty("links").GetProperty("next").ValueKind);
    }

    [Fact]
    public async Task List_DefaultPage_Is50()
    {
        var response = await GetAsync("/plans");

        Assert.Equal(50, response.Json.GetProperty("meta").GetProperty("page_size").GetInt32());
        Assert.Equal(1, response.Json.GetProperty("meta").GetProperty("page_number").GetInt32());
    }
    [Fact]
    public async Task ListUsers_FollowingCursorsWhileEachPagesUsersAreDeleted_VisitsEveryUserOnce()
    {
        // Arrange: seven users; a script deletes each page's users before asking for the next page
        for (var i = 0; i < 7; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await PostAsync("/users", new { email = $"user{i}@example.com" })).Status);
        }

        // Act
        var seen = new List<string>();
        var pages = new List<AdminResponse>();
        string? next = "/users?page[size]=3";
        for (var page = 0; next is not null && page < 10; page++)
        {
            var response = await GetAsync(next);
            pages.Add(response);
            foreach (var user in AssertData(response).EnumerateArray())
            {
                seen.Add(user.GetProperty("email").GetString()!);
                Assert.Equal(HttpStatusCode.NoContent, (await DeleteAsync("/users/" + user.GetProperty("id").GetString())).Status);
            }

            next = response.Json.GetProperty("links").GetProperty("next").GetString()?["/admin".Length..];
        }

        // Assert: by page number the second page would have skipped three users; the cursor continues behind the last one read
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"user{i}@example.com"), seen);
        Assert.Equal(3, pages.Count);
        var cursor = pages[0].Json.GetProperty("meta").GetProperty("next_cursor").GetString()!;
        Assert.Equal($"/admin/users?page%5Bafter%5D={cursor}&page%5Bsize%5D=3", pages[0].Json.GetProperty("links").GetProperty("next").GetString());
        Assert.False(pages[1].Json.GetProperty("meta").TryGetProperty("page_number", out _));
        Assert.Equal(JsonValueKind.Null, pages[1].Json.GetProperty("links").GetProperty("prev").ValueKind);
        Assert.False(pages[2].Json.GetProperty("meta").TryGetProperty("next_cursor", out _));
        Assert.Equal(1, pages[2].Json.GetProperty("meta").GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task ListKeys_FollowingCursorsOfOneUsersKeys_NewestFirstEveryKeyOnceAndNoneOfAnotherUsers()
    {
        // Arrange
        await PostAsync("/users", new { email = "dev@example.com" });
        await PostAsync("/users", new { email = "other@example.com" });
        var created = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            created.Add(AssertData(await PostAsync("/keys", new { user = "dev@example.com", name = $"k{i}" }), HttpStatusCode.Created).GetProperty("id").GetString()!);
            await PostAsync("/keys", new { user = "other@example.com" });
        }

        // Act
        var ids = new List<string>();
        string? cursor = null;
        for (var page = 0; page < 10; page++)
        {
            var response = await GetAsync("/keys?user=dev%40example.com&page[size]=2" + (cursor is null ? "" : "&page[after]=" + cursor));
            ids.AddRange(AssertData(response).EnumerateArray().Select(k => k.GetProperty("id").GetString()!));
            if (!response.Json.GetProperty("meta").TryGetProperty("next_cursor", out var next))
            {
                break;
            }

            cursor = next.GetString();
        }

        // Assert
        created.Reverse();
        Assert.Equal(created, ids);
    }

    [Theory]
    [InlineData("page[after]=bm9wZQ", "a cursor of no list")]
    [InlineData("page[after]=%25%25", "not base64url")]
    [InlineData("page[after]=", "empty")]
    [InlineData("page[after]=a2V5cwoyMDI2CmtleV8x", "a keys cursor on the users list")]
    [InlineData("page[after]=dXNlcnMKYUBleGFtcGxlLmNvbQp1c3JfMQ&page[number]=2", "with a page number")]
    [InlineData("page[after]=dXNlcnMKYUBleGFtcGxlLmNvbQp1c3JfMQ&page[after]=dXNlcnMKYUBleGFtcGxlLmNvbQp1c3JfMQ", "given twice")]
    public async Task ListUsers_BadCursor_Returns400NamingPageAfter(string query, string why)
    {
        // Act
        var response = await GetAsync("/users?" + query);

        // Assert
        Assert.True(response.Status == HttpStatusCode.BadRequest, why);
        AssertError(response, HttpStatusCode.BadRequest, "invalid_parameter", parameter: "page[after]");
    }

    [Fact]
    public async Task ListAudit_FollowingNextLinksWhileChangesAreMade_VisitsEveryChangeOfTheFirstPageOnce()
    {
        // Arrange: nine audited changes
        var t = DateTimeOffset.UtcNow.AddMinutes(-10);
        for (var i = 0; i < 9; i++)
        {
            await Gateway.Store.AddAdminAuditAsync(new AdminAuditRecord(0, t.AddSeconds(i), "POST", $"/users/u{i}", 201, "adt_1", "ops", "127.0.0.1", ""), CancellationToken.None);
        }

        var window = (await Gateway.Store.ListAdminAuditAsync(9, CancellationToken.None)).Select(a => a.Id).ToList();

        // Act: a script pages through the trail by its next links, creating a user (a change, audited) after each page
        var seen = new List<long>();
        string? next = "/audit?limit=9&page[size]=4";
        for (var page = 0; next is not null && page < 10; page++)
        {
            var response = await GetAsync(next);
            seen.AddRange(AssertData(response).EnumerateArray().Select(a => a.GetProperty("id").GetInt64()));
            Assert.Equal(HttpStatusCode.Created, (await PostAsync("/users", new { email = $"during{page}@example.com" })).Status);
            next = response.Json.GetProperty("links").GetProperty("next").GetString()?["/admin".Length..];
        }

        // Assert: by page number each new change would have pushed the later pages back, showing rows twice
        Assert.Equal(window, seen);
    }

    [Fact]
    public async Task ListRecentUsage_FollowingNextLinksWhileEventsArrive_VisitsEveryEventOfTheFirstPageOnce()
    {
        // Arrange: a user with eight events
        var user = AssertData(await PostAsync("/users", new { email = "busy@example.com" }), HttpStatusCode.Created).GetProperty("id").GetString()!;
        var t = DateTimeOffset.UtcNow.AddHours(-1);
        await Gateway.Store.AddUsageEventsAsync([.. Enumerable.Range(0, 8).Select(i => Storage.UsageStoreTests.Event(user, t.AddSeconds(i), path: $"/e{i}"))],
            CancellationToken.None);

        // Act: two newer requests are recorded after each page
        var seen = new List<string>();
        string? next = "/usage/recent?user=busy%40example.com&limit=8&page[size]=3";
        for (var page = 0; next is not null && page < 10; page++)
        {
            var response = await GetAsync(next);
            seen.AddRange(AssertData(response).EnumerateArray().Select(e => e.GetProperty("path").GetString()!));
            await Gateway.Store.AddUsageEventsAsync(
                [Storage.UsageStoreTests.Event(user, t.AddMinutes(1 + page), path: $"/new{page}a"), Storage.UsageStoreTests.Event(user, t.AddMinutes(1 + page), path: $"/new{page}b")],
                CancellationToken.None);
            next = response.Json.GetProperty("links").GetProperty("next").GetString()?["/admin".Length..];
        }

        // Assert
        Assert.Equal(Enumerable.Range(0, 8).Reverse().Select(i => $"/e{i}"), seen);
    }

    [Theory]
    [InlineData("/audit?page[after]=dXNlcnMKYUBleGFtcGxlLmNvbQp1c3JfMQ", "a users cursor")]
    [InlineData("/audit?page[after]=YXVkaXQKNQo1", "an audit cursor without the rows left")]
    [InlineData("/audit?page[after]=YXVkaXQKNQp4CjM", "an audit cursor with an edited id")]
    [InlineData("/usage/recent?user=cursor%40example.com&page[after]=dXNhZ2UtcmVjZW50CngKNQoz", "a recent usage cursor with an edited time")]
    [InlineData("/audit?page[after]=YXVkaXQKNQo1CjM&page[number]=2", "with a page number")]
    [InlineData("/usage/recent?user=cursor%40example.com&page[after]=YXVkaXQKNQo1CjM", "an audit cursor on the recent usage")]
    [InlineData("/usage/recent?user=cursor%40example.com&page[after]=%25%25", "not base64url")]
    public async Task ListAuditAndRecentUsage_BadCursor_Returns400NamingPageAfter(string path, string why)
    {
        // Arrange
        await PostAsync("/users", new { email = "cursor@example.com" });

        // Act
        var response = await GetAsync(path);

        // Assert
        Assert.True(response.Status == HttpStatusCode.BadRequest, why);
        var error = AssertError(response, HttpStatusCode.BadRequest, "invalid_parameter", parameter: "page[after]");
        Assert.Equal(path.Contains("page[number]", StringComparison.Ordinal)
                ? "page[after] and page[number] cannot be given together: a page continues from a cursor or is counted from the start"
                : "page[after] must be a cursor this list gave (meta.next_cursor of the page before), passed unchanged",
            error.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task ListPlans_PageAfter_Returns400AsAParameterThePlansListDoesNotRead()
    {
        AssertError(await GetAsync("/plans?page[after]=dXNlcnMKYQpi"), HttpStatusCode.BadRequest, "invalid_parameter", parameter: "page[after]");
    }
}
