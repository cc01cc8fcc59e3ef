using System.Reflection;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// A page of a user's recent events is read in SQL: the same events, in the same order, as the matching slice of the
/// newest <c>limit</c> events, and never more rows than the page holds, however large <c>limit</c> is.
/// </summary>
public sealed class RecentUsagePageTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GetRecentUsagePageAsync_PagesOfTheWindow_EqualSlicesOfTheNewestEvents(string engine)
    {
        // Arrange: 25 events of usr_1 (two at the same second: the id orders them), others' events between them
        var store = (await engines.CreateAsync(engine)).Store;
        var t = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        await store.AddUsageEventsAsync(
            [.. Enumerable.Range(0, 25).Select(i => UsageStoreTests.Event("usr_1", t.AddSeconds(i == 24 ? 23 : i), path: $"/e{i}")),
             .. Enumerable.Range(0, 5).Select(i => UsageStoreTests.Event("usr_2", t.AddSeconds(i), path: $"/other{i}"))], None);
        var window = (await store.GetRecentUsageAsync("usr_1", 20, None)).Select(e => e.Path).ToList();

        // Act
        var pages = new List<UsageEventPage>();
        for (var offset = 0; offset <= 21; offset += 7)
        {
            pages.Add(await store.GetRecentUsagePageAsync("usr_1", 20, offset, null, 7, None));
        }

        // Assert
        Assert.Equal([window[..7], window[7..14], window[14..20], []], pages.Select(p => p.Events.Select(e => e.Path).ToList()));
        Assert.All(pages, p => Assert.Equal(20, p.Total));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GetRecentUsagePageAsync_LimitBeyondTheEvents_TotalIsTheEventsAndPageAtMostItsSize(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var t = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        await store.AddUsageEventsAsync([.. Enumerable.Range(0, 12).Select(i => UsageStoreTests.Event("usr_1", t.AddSeconds(i), path: $"/e{i}"))], None);

        // Act
        var first = await store.GetRecentUsagePageAsync("usr_1", 10_000, 0, null, 1, None);
        var second = await store.GetRecentUsagePageAsync("usr_1", 10_000, 1, null, 1, None);
        var past = await store.GetRecentUsagePageAsync("usr_1", 10_000, 50, null, 5, None);

        // Assert
        Assert.Equal(["/e11"], first.Events.Select(e => e.Path));
        Assert.Equal(12, first.Total);
        Assert.Equal(["/e10"], second.Events.Select(e => e.Path));
        Assert.Equal((0, 12), (past.Events.Count, past.Total));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GetRecentUsagePageAsync_FollowingCursorsWhileEventsArrive_EveryEventOfTheFirstWindowOnce(string engine)
    {
        // Arrange: 25 events of usr_1 (two at the same second), read 20 at a time in pages of 7
        var store = (await engines.CreateAsync(engine)).Store;
        var t = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        await store.AddUsageEventsAsync([.. Enumerable.Range(0, 25).Select(i => UsageStoreTests.Event("usr_1", t.AddSeconds(i == 24 ? 23 : i), path: $"/e{i}"))], None);
        var window = (await store.GetRecentUsageAsync("usr_1", 20, None)).Select(e => e.Path).ToList();

        // Act: after each page, newer events arrive (one at the newest second read so far) — by offset, each would shift
        // the pages after it
        var seen = new List<string>();
        ListCursor? after = null;
        for (var page = 0; page < 10; page++)
        {
            var read = await store.GetRecentUsagePageAsync("usr_1", 20, 0, after, 7, None);
            seen.AddRange(read.Events.Select(e => e.Path));
            await store.AddUsageEventsAsync(
                [UsageStoreTests.Event("usr_1", t.AddSeconds(23), path: $"/new{page}a"), UsageStoreTests.Event("usr_1", t.AddMinutes(1 + page), path: $"/new{page}b")], None);
            if (read.Next is null)
            {
                break;
            }

            after = read.Next;
        }

        // Assert: the window as it was on the first page, each event once, none of those that arrived
        Assert.Equal(window, seen);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ListAdminAuditPageAsync_FollowingCursorsWhileChangesArrive_EveryChangeOfTheFirstWindowOnce(string engine)
    {
        // Arrange: 12 audited changes, read 10 at a time in pages of 4
        var store = (await engines.CreateAsync(engine)).Store;
        var t = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 12; i++)
        {
            await store.AddAdminAuditAsync(new AdminAuditRecord(0, t.AddSeconds(i), "POST", $"/users/u{i}", 201, "adt_1", "ops", "127.0.0.1", ""), None);
        }

        var window = (await store.ListAdminAuditAsync(10, None)).Select(a => a.Path).ToList();

        // Act: a change is audited after each page
        var pages = new List<StorePage<AdminAuditRecord>>();
        ListCursor? after = null;
        for (var page = 0; page < 10; page++)
        {
            var read = await store.ListAdminAuditPageAsync(10, 0, after, 4, None);
            pages.Add(read);
            await store.AddAdminAuditAsync(new AdminAuditRecord(0, t.AddMinutes(1 + page), "PATCH", $"/users/new{page}", 200, "adt_1", "ops", "127.0.0.1", ""), None);
            if (read.Next is null)
            {
                break;
            }

            after = read.Next;
        }

        // Assert: 4 + 4 + 2 of the ten newest when the walk began, each once
        Assert.Equal(window, pages.SelectMany(p => p.Items.Select(a => a.Path)));
        Assert.Equal([4, 4, 2], pages.Select(p => p.Items.Count));
        Assert.Equal([6, 2], pages.Where(p => p.Next is not null).Select(p => p.Next!.Left!.Value));
    }

    [Theory]
    [InlineData(10_000, 1, 1, 0, 1)]
    [InlineData(10_000, 500, 3, 1000, 500)]
    [InlineData(20, 7, 3, 14, 7)]
    [InlineData(20, 7, 9, 20, 7)]
    public async Task RecentPageAsync_AnyLimit_AsksTheStoreForOnePageOnly(int limit, int size, int number, int offset, int count)
    {
        // Arrange
        var recorder = RecordingStore.Create();
        var usage = new UsageService(recorder, TimeProvider.System);
        var user = new UserDefinition { Id = "usr_1", Email = "a@example.com", PlanId = "free" };

        // Act
        var result = await usage.RecentPageAsync(user, limit, (long)(number - 1) * size, size, None);

        // Assert
        Assert.True(result.Ok, result.Error?.ToString());
        var call = Assert.Single(((RecordingStore)(object)recorder).Calls);
        Assert.Equal(("GetRecentUsagePageAsync", "usr_1", limit, offset, count), call);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task FindQuotaUsageAsync_AmongOtherUsersAndMonths_ReadsThatUsersCounterOnly(string engine)
    {
        // Arrange: usr_1's counter beside other users' and another month's
        var store = (await engines.CreateAsync(engine)).Store;
        var may = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        await store.AddQuotaUsageAsync(
            [new QuotaUsage("usr_1", may, 7, 2), new QuotaUsage("usr_2", may, 50, 0), new QuotaUsage("usr_1", may.AddMonths(-1), 300, 9)], None);

        // Act
        var counter = await store.FindQuotaUsageAsync("usr_1", may, None);
        var none = await store.FindQuotaUsageAsync("usr_3", may, None);

        // Assert
        Assert.Equal(new QuotaUsage("usr_1", may, 7, 2), counter);
        Assert.Equal(new QuotaUsage("usr_3", may, 0, 0), none);
    }

    [Fact]
    public async Task SummaryAsync_AnyNumberOfUsers_ReadsOnlyThisUsersQuotaCounter()
    {
        // Arrange
        var recorder = RecordingStore.Create();
        var usage = new UsageService(recorder, TimeProvider.System);
        var user = new UserDefinition { Id = "usr_1", Email = "a@example.com", PlanId = "free" };

        // Act
        var report = await usage.SummaryAsync(user, None);

        // Assert: one row, not every user's counter of the month (what the portal's dashboard and /usage/summary cost)
        Assert.Equal((5, 1), (report.QuotaUsed, report.QuotaOverage));
        Assert.Contains(((RecordingStore)(object)recorder).Calls, c => c.Method == nameof(IGatewayStore.FindQuotaUsageAsync) && c.User == "usr_1");
        Assert.DoesNotContain(((RecordingStore)(object)recorder).Calls, c => c.Method == nameof(IGatewayStore.LoadQuotaUsageAsync));
    }

    /// <summary>An <see cref="IGatewayStore"/> that records the usage reads it is asked for and answers an empty page.</summary>
    public class RecordingStore : DispatchProxy
    {
        public List<(string Method, string User, int Limit, int Offset, int Count)> Calls { get; } = [];

        public static IGatewayStore Create() => Create<IGatewayStore, RecordingStore>();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            switch (targetMethod!.Name)
            {
                case nameof(IGatewayStore.GetRecentUsagePageAsync):
                    Calls.Add((targetMethod.Name, (string)args![0]!, (int)args[1]!, (int)args[2]!, (int)args[4]!));
                    return Task.FromResult(new UsageEventPage([], 0));
                case nameof(IGatewayStore.GetRecentUsageAsync):
                    Calls.Add((targetMethod.Name, (string)args![0]!, (int)args[1]!, 0, (int)args[1]!));
                    return Task.FromResult<IReadOnlyList<UsageEvent>>([]);
                case nameof(IGatewayStore.GetUsageSummaryAsync):
                    return Task.FromResult(new UsageSummary((DateTimeOffset)args![1]!, (DateTimeOffset)args[2]!, 0, 0, 0, 0, 0));
                case nameof(IGatewayStore.FindPlanAsync):
                    return Task.FromResult<PlanDefinition?>(null);
                case nameof(IGatewayStore.FindQuotaUsageAsync):
                    Calls.Add((targetMethod.Name, (string)args![0]!, 0, 0, 0));
                    return Task.FromResult(new QuotaUsage((string)args[0]!, (DateTimeOffset)args[1]!, 5, 1));
                case nameof(IGatewayStore.LoadQuotaUsageAsync):
                    Calls.Add((targetMethod.Name, "", 0, 0, 0));
                    return Task.FromResult<IReadOnlyList<QuotaUsage>>([new QuotaUsage("usr_1", (DateTimeOffset)args![0]!, 5, 1)]);
                default:
                    throw new NotSupportedException(targetMethod.Name);
            }
        }
    }
}
