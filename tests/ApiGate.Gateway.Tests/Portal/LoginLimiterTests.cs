using ApiGate.Core.Storage;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>
/// The portal's login limiter and the attempt counts under it: per account and per client address, in the store (both
/// engines), on a fake clock; two limiters on one database stand in for two instances.
/// </summary>
public sealed class LoginLimiterTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(15);
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Take_FiveForOneAccountSpreadOverTwoInstances_SixthRefusedOnBothUntilWindowEnds(string engine)
    {
        // Arrange: two instances (limiters on their own store objects, one database)
        var first = await engines.CreateAsync(engine);
        await using var secondStore = GatewayStores.Create(engine, first.Dsn, new SecretProtector(null));
        await secondStore.InitializeAsync(None);
        var one = Limiter(first.Store, accountLimit: 5, addressLimit: 100);
        var two = Limiter(secondStore, accountLimit: 5, addressLimit: 100);
        var allowed = new List<TimeSpan?>();
        for (var i = 0; i < 5; i++)
        {
            allowed.Add(await (i % 2 == 0 ? one : two).TakeAsync(i == 4 ? "A@Example.com " : "a@example.com", "10.0.0." + i, None));
        }

        // Act
        var refusedByOne = await one.TakeAsync("a@example.com", "10.0.0.9", None);
        var refusedByTwo = await two.TakeAsync("a@example.com", "10.0.0.9", None);
        _clock.Advance(Window);
        var later = await one.TakeAsync("a@example.com", "10.0.0.9", None);

        // Assert
        Assert.All(allowed, Assert.Null);
        Assert.Equal(Window, refusedByOne);
        Assert.Equal(Window, refusedByTwo);
        Assert.Null(later);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Take_TwentyAtOnceForOneAccountFromTwoInstances_ExactlyTheLimitGoAhead(string engine)
    {
        // Arrange
        var first = await engines.CreateAsync(engine);
        await using var secondStore = GatewayStores.Create(engine, first.Dsn, new SecretProtector(null));
        await secondStore.InitializeAsync(None);
        var limiters = new[] { Limiter(first.Store, accountLimit: 5, addressLimit: 100), Limiter(secondStore, accountLimit: 5, addressLimit: 100) };

        // Act: a burst of guesses that all arrive before any password check could have finished
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => limiters[i % 2].TakeAsync("burst@example.com", $"198.51.100.{i}", None)));

        // Assert
        Assert.Equal(5, answers.Count(a => a is null));
        Assert.Equal(15, answers.Count(a => a == Window));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Take_TwentyFromOneAddress_RefusedForAnyAccount(string engine)
    {
        // Arrange
        var limiter = Limiter((await engines.CreateAsync(engine)).Store, accountLimit: 5, addressLimit: 20);
        for (var i = 0; i < 20; i++)
        {
            Assert.Null(await limiter.TakeAsync($"user{i}@example.com", "192.0.2.1", None));
            _clock.Advance(TimeSpan.FromSeconds(10));
        }

        // Act
        var sameAddress = await limiter.TakeAsync("fresh@example.com", "192.0.2.1", None);
        var otherAddress = await limiter.TakeAsync("fresh@example.com", "192.0.2.2", None);

        // Assert
        Assert.Equal(Window - TimeSpan.FromSeconds(200), sameAddress);
        Assert.Null(otherAddress);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Take_FromAnAddressAlreadyRefused_CountsNothingAgainstTheAccountsItNames(string engine)
    {
        // Arrange: a guesser spends its address's 20 attempts on made-up accounts
        var store = (await engines.CreateAsync(engine)).Store;
        var limiter = Limiter(store, accountLimit: 5, addressLimit: 20);
        for (var i = 0; i < 20; i++)
        {
            Assert.Null(await limiter.TakeAsync($"guess{i}@example.com", "203.0.113.7", None));
        }

        // Act: then names a real customer's account five times more, and that customer logs in from their own address
        var refused = new List<TimeSpan?>();
        for (var i = 0; i < 5; i++)
        {
            refused.Add(await limiter.TakeAsync("victim@example.com", "203.0.113.7", None));
        }

        var victim = await limiter.TakeAsync("victim@example.com", "198.51.100.1", None);

        // Assert: the guesser is refused for its address, the customer is not locked out, and no count was stored
        // for an account named only from the refused address
        Assert.All(refused, r => Assert.Equal(Window, r));
        Assert.Null(victim);
        Assert.Equal(1, (await store.GetAttemptCountAsync(KeyOf("portal-login-account", "victim@example.com"), None))!.Value.Count);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Take_TwoAddressesOfOneIpv6Slash64_ShareOneBudget(string engine)
    {
        // Arrange: 20 attempts from one IPv6 address
        var limiter = Limiter((await engines.CreateAsync(engine)).Store, accountLimit: 100, addressLimit: 20);
        for (var i = 0; i < 20; i++)
        {
            Assert.Null(await limiter.TakeAsync($"user{i}@example.com", "2001:db8:1:2::10", None));
        }

        // Act
        var sameSlash64 = await limiter.TakeAsync("next@example.com", "2001:db8:1:2:ffff:eeee:dddd:cccc", None);
        var otherSlash64 = await limiter.TakeAsync("next@example.com", "2001:db8:1:3::10", None);

        // Assert
        Assert.Equal(Window, sameSlash64);
        Assert.Null(otherSlash64);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Succeeded_AfterFailures_ClearsAccountAndTakesTheAttemptBackFromTheAddress(string engine)
    {
        // Arrange: two wrong passwords, then the right one, from one address (limits 3 and 3)
        var limiter = Limiter((await engines.CreateAsync(engine)).Store, accountLimit: 3, addressLimit: 3);
        await limiter.TakeAsync("b@example.com", "198.51.100.1", None);
        await limiter.TakeAsync("b@example.com", "198.51.100.1", None);
        await limiter.TakeAsync("b@example.com", "198.51.100.1", None);

        // Act
        await limiter.SucceededAsync("b@example.com", "198.51.100.1", None);
        var sameAccount = await limiter.TakeAsync("b@example.com", "198.51.100.2", None);
        var thirdOnAddress = await limiter.TakeAsync("c@example.com", "198.51.100.1", None);
        var fourthOnAddress = await limiter.TakeAsync("d@example.com", "198.51.100.1", None);

        // Assert: the two failures still count against the address, the success does not
        Assert.Null(sameAccount);
        Assert.Null(thirdOnAddress);
        Assert.Equal(Window, fourthOnAddress);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddAttempt_InsideAndAfterTheWindow_CountsOnThenStartsANewWindow(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var start = _clock.GetUtcNow();
        for (var i = 0; i < 7; i++)
        {
            await store.AddAttemptAsync("k", start.AddMinutes(i), Window, None);
        }

        // Act
        var inside = await store.AddAttemptAsync("k", start.AddMinutes(14).AddSeconds(59), Window, None);
        var outside = await store.AddAttemptAsync("k", start.AddMinutes(15), Window, None);

        // Assert
        Assert.Equal(new AttemptCount(8, start), inside);
        Assert.Equal(new AttemptCount(1, start.AddMinutes(15)), outside);
        Assert.Equal(outside, await store.GetAttemptCountAsync("k", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddAttempt_FiftyAtOnceFromFourStores_EveryOneCounted(string engine)
    {
        // Arrange
        var dsn = (await engines.CreateAsync(engine)).Dsn;
        var stores = Enumerable.Range(0, 4).Select(_ => GatewayStores.Create(engine, dsn, new SecretProtector(null))).ToList();
        await Task.WhenAll(stores.Select(s => s.InitializeAsync(None)));
        var now = _clock.GetUtcNow();

        // Act
        var counts = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => stores[i % 4].AddAttemptAsync("burst", now, Window, None)));

        // Assert: every add saw its own count, 1 to 50, none lost and none repeated
        Assert.Equal(Enumerable.Range(1, 50), counts.Select(c => c.Count).Order());
        Assert.Equal(50, (await stores[0].GetAttemptCountAsync("burst", None))!.Value.Count);
        foreach (var store in stores)
        {
            await store.DisposeAsync();
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task DeleteAttemptCountsBefore_OldAndNewWindows_RemovesOnlyTheOld(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var now = _clock.GetUtcNow();
        await store.AddAttemptAsync("old", now.AddDays(-2), Window, None);
        await store.AddAttemptAsync("new", now, Window, None);

        // Act
        var removed = await store.DeleteAttemptCountsBeforeAsync(now.AddDays(-1), None);

        // Assert
        Assert.Equal(1, removed);
        Assert.Null(await store.GetAttemptCountAsync("old", None));
        Assert.NotNull(await store.GetAttemptCountAsync("new", None));
    }

    [Theory]
    [InlineData("192.0.2.1", "192.0.2.1")]
    [InlineData("::ffff:192.0.2.1", "192.0.2.1")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("2001:DB8:1:2::", "2001:db8:1:2::/64")]
    [InlineData("::1", "::/64")]
    [InlineData("fe80::1%2", "fe80::/64")]
    [InlineData("not an address", "not an address")]
    public void AddressKey_Addresses_IPv4AsItIsAndIPv6ByItsSlash64(string address, string expected) =>
        Assert.Equal(expected, AttemptCounter.AddressKey(address));

    [Fact]
    public async Task RecordFailure_EmailAndAddress_StoredOnlyAsDigests()
    {
        // Arrange: a password pasted into the email field by mistake must not land in the database
        var stored = await engines.CreateAsync(GatewayStores.Sqlite);
        var limiter = Limiter(stored.Store, accountLimit: 5, addressLimit: 20);

        // Act
        await limiter.TakeAsync("Hunter2-Secret-Password", "203.0.113.9", None);

        // Assert
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + stored.Dsn);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM attempt_counts ORDER BY name";
        var names = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                names.Add(reader.GetString(0));
            }
        }

        Assert.Equal(3, names.Count);
        Assert.All(names, n => Assert.Matches("^portal-(login-account|login-address|password-checks):[0-9A-F]{64}$", n));
        Assert.DoesNotContain(names, n => n.Contains("hunter2", StringComparison.OrdinalIgnoreCase) || n.Contains("203.0.113.9", StringComparison.Ordinal));
    }

    private static string KeyOf(string purpose, string what) =>
        purpose + ":" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(what)));

    private LoginLimiter Limiter(IGatewayStore store, int accountLimit, int addressLimit) =>
        new(new AttemptCounter(store, _clock), accountLimit, addressLimit, Window);
}
