using ApiGate.Core.Billing;
using ApiGate.Gateway.Billing;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// An overage row still unsent longer than Stripe keeps its idempotency key after its first attempt is held instead of
/// sent again (a resend could be counted twice), until an operator decides it: sent, or send again.
/// </summary>
public sealed class OverageHoldTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly DateTimeOffset Now = BillingStoreTests.Now;
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task HoldStale_FirstAttemptOlderThanTheWindow_HeldAndNeverClaimedUntilResolved(string engine)
    {
        // Arrange: two rows attempted once (claimed, then failed) at Now; one row never attempted
        var store = (await engines.CreateAsync(engine)).Store;
        var (billed, _) = await BillingStoreTests.SetUpAsync(store);
        await store.AddUsageEventsAsync([BillingStoreTests.Event(billed, 2, 0)], CancellationToken.None);
        await store.AddUsageEventsAsync([BillingStoreTests.Event(billed, 3, 1)], CancellationToken.None);
        foreach (var row in await store.ClaimOverageAsync("a", 10, Now, Lease, CancellationToken.None))
        {
            await store.MarkOverageFailedAsync(row.Id, "a", Now.AddSeconds(10), "api_error", CancellationToken.None);
        }

        await store.AddUsageEventsAsync([BillingStoreTests.Event(billed, 5, 2)], CancellationToken.None);
        var later = Now.AddHours(23).AddMinutes(1);

        // Act
        var tooEarly = await store.HoldStaleOverageAsync(Now.AddHours(22), Now.AddHours(22).AddHours(-23), CancellationToken.None);
        var held = await store.HoldStaleOverageAsync(later, later.AddHours(-23), CancellationToken.None);
        var heldAgain = await store.HoldStaleOverageAsync(later, later.AddHours(-23), CancellationToken.None);
        var claimable = await store.ClaimOverageAsync("b", 10, later, Lease, CancellationToken.None);
        var totals = await store.GetOverageTotalsAsync(CancellationToken.None);
        var (first, second) = (held.Single(r => r.Units == 2), held.Single(r => r.Units == 3));
        var markedSent = await store.ResolveHeldOverageAsync(first.Id, OverageResolution.Sent, later, CancellationToken.None);
        var released = await store.ResolveHeldOverageAsync(second.Id, OverageResolution.Resend, later, CancellationToken.None);
        var releasedTwice = await store.ResolveHeldOverageAsync(second.Id, OverageResolution.Resend, later, CancellationToken.None);
        var notHeld = await store.ResolveHeldOverageAsync(claimable[0].Id, OverageResolution.Sent, later, CancellationToken.None);
        var afterRelease = await store.ClaimOverageAsync("c", 10, later.AddMinutes(1), Lease, CancellationToken.None); // "b" still holds its row

        // Assert
        Assert.Empty(tooEarly);
        Assert.Equal(2, held.Count);
        Assert.All(held, r => Assert.Equal((Now, later), (r.FirstAttemptAt, r.HeldAt)));
        Assert.Empty(heldAgain);
        Assert.Equal(5, Assert.Single(claimable).Units); // only the row never attempted before
        Assert.Equal((3L, 2L), (totals.PendingRows, totals.HeldRows));
        Assert.True(markedSent);
        Assert.True(released);
        Assert.False(releasedTwice);
        Assert.False(notHeld);
        var resent = Assert.Single(afterRelease); // the released row, due again; the row sent by the operator stays sent
        Assert.Equal((second.Id, 2), (resent.Id, resent.Attempts));
        Assert.Equal(later.AddMinutes(1), resent.FirstAttemptAt);
        Assert.Contains(await store.ListOverageAsync(sent: true, 10, CancellationToken.None), r => r.Id == first.Id);
    }

    [Fact]
    public async Task Reporter_RowFailedThenInstanceDownForADay_HeldAndLoggedNotSentThenResentAfterResolve()
    {
        // Arrange: Stripe fails the first attempt (a 500 says nothing about whether the units were counted)
        var store = (await engines.CreateAsync(GatewayStores.Sqlite)).Store;
        var (billed, _) = await BillingStoreTests.SetUpAsync(store);
        await store.AddUsageEventsAsync([BillingStoreTests.Event(billed, 4, 0)], CancellationToken.None);
        await using var stripe = await FakeStripe.StartAsync();
        stripe.FailNext = ("/v1/billing/meter_events", 500);
        var clock = new FakeTimeProvider(Now);
        using var provider = new StripeBillingProvider(FakeStripe.SecretKey, "whsec_unused", stripe.Url, clock);
        var logger = new RecordingLogger<OverageReporter>();
        var reporter = new OverageReporter(store, provider, new OverageReporterOptions(), clock, logger);

        // Act
        await reporter.RunOnceAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromHours(24));
        var claimedAfterADay = await reporter.RunOnceAsync(CancellationToken.None);
        var callsWhileHeld = stripe.To("/v1/billing/meter_events").Count();
        var row = Assert.Single(await store.ListOverageAsync(sent: false, 10, CancellationToken.None));
        await store.ResolveHeldOverageAsync(row.Id, OverageResolution.Resend, clock.GetUtcNow(), CancellationToken.None);
        await reporter.RunOnceAsync(CancellationToken.None);

        // Assert
        Assert.Equal(0, claimedAfterADay);
        Assert.Equal(1, callsWhileHeld);
        Assert.NotNull(row.HeldAt);
        var warning = Assert.Single(logger.Entries, e => e.EventId == 9124);
        Assert.Contains(row.Id, warning.Message, StringComparison.Ordinal);
        Assert.Contains("apigate billing resolve", warning.Message, StringComparison.Ordinal);
        Assert.Equal("4", Assert.Single(stripe.Billed).Form["payload[value]"]);
        Assert.Equal(row.Id, stripe.Billed.Single().Form["identifier"]);
        Assert.Equal(1, (await store.GetOverageTotalsAsync(CancellationToken.None)).SentRows);
    }

    [Fact]
    public async Task CliResolve_HeldRows_MarkedSentOrReleasedWithClearErrorsForBadUse()
    {
        // Arrange: a gateway's store with two held rows
        await using var gateway = await TestGateway.StartAsync();
        var store = gateway.Store;
        var (billed, _) = await BillingStoreTests.SetUpAsync(store);
        await store.AddUsageEventsAsync([BillingStoreTests.Event(billed, 2, 0), BillingStoreTests.Event(billed, 3, 1, meter: "api_overage_eu")], CancellationToken.None);
        foreach (var claimed in await store.ClaimOverageAsync("a", 10, Now, Lease, CancellationToken.None))
        {
            await store.MarkOverageFailedAsync(claimed.Id, "a", Now.AddSeconds(10), "api_error", CancellationToken.None);
        }

        var held = await store.HoldStaleOverageAsync(Now.AddDays(1), Now.AddDays(1).AddHours(-23), CancellationToken.None);
        var (first, second) = (held.Single(r => r.Units == 2), held.Single(r => r.Units == 3));

        // Act
        var status = await gateway.CliAsync("billing", "status");
        var neither = await gateway.CliAsync("billing", "resolve", first.Id);
        var both = await gateway.CliAsync("billing", "resolve", first.Id, "--sent", "--resend");
        var unknown = await gateway.CliAsync("billing", "resolve", "apigate_overage_nope", "--sent");
        var sent = await gateway.CliAsync("billing", "resolve", first.Id, "--sent");
        var resend = await gateway.CliAsync("billing", "resolve", second.Id, "--resend");

        // Assert
        Assert.Equal(0, status.ExitCode);
        Assert.Contains("2 held (see HELD; decide each with 'apigate billing resolve')", status.Output, StringComparison.Ordinal);
        Assert.Equal(2, neither.ExitCode);
        Assert.Equal("error: give exactly one of --sent or --resend" + Environment.NewLine, neither.Diagnostics);
        Assert.Equal(2, both.ExitCode);
        Assert.Equal(3, unknown.ExitCode);
        Assert.Contains("no held overage row with id 'apigate_overage_nope'", unknown.Diagnostics, StringComparison.Ordinal);
        Assert.Equal((0, $"marked {first.Id} sent; it will not be reported again" + Environment.NewLine), (sent.ExitCode, sent.Output));
        Assert.Equal((0, $"released {second.Id}; it will be reported again with the same id" + Environment.NewLine), (resend.ExitCode, resend.Output));
        var totals = await store.GetOverageTotalsAsync(CancellationToken.None);
        Assert.Equal((1L, 0L, 1L, 2L), (totals.PendingRows, totals.HeldRows, totals.SentRows, totals.SentUnits));
    }
}
