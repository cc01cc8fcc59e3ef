using ApiGate.Gateway.Billing;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// A claimed overage row is sent, and its call may last, only inside the claim's lease: another instance takes the row
/// over only after the lease has run out, so two instances never send the same row at once, however slow the provider.
/// </summary>
public sealed class OverageClaimTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const string MeterEvents = "/v1/billing/meter_events";

    [Fact]
    public async Task Reporter_ProviderAnswersSlowerThanTheClaim_CallCutAtTheClaimsEndRestLeftThenEachBilledOnce()
    {
        // Arrange: two rows in one claim; Stripe takes the first row's units and then holds its answer
        var store = (await engines.CreateAsync(GatewayStores.Sqlite)).Store;
        var (billed, _) = await BillingStoreTests.SetUpAsync(store);
        await store.AddUsageEventsAsync([BillingStoreTests.Event(billed, 2, 0)], CancellationToken.None); // a row per batch written
        await store.AddUsageEventsAsync([BillingStoreTests.Event(billed, 3, 1)], CancellationToken.None);
        await using var stripe = await FakeStripe.StartAsync();
        stripe.AfterMeterEvent = _ => true;
        var clock = new FakeTimeProvider(BillingStoreTests.Now);
        using var provider = new StripeBillingProvider(FakeStripe.SecretKey, "whsec_unused", stripe.Url, clock);
        var logger = new RecordingLogger<OverageReporter>();
        var options = new OverageReporterOptions();
        var reporter = new OverageReporter(store, provider, options, clock, logger);

        // Act: the claim's time passes while the first call waits for its answer
        var pass = reporter.RunOnceAsync(CancellationToken.None);
        await Poll.UntilAsync(() => !stripe.Billed.IsEmpty);
        Assert.Single(stripe.Billed);
        clock.Advance(options.Lease);
        var claimed = await pass.WaitAsync(TimeSpan.FromSeconds(30));
        var afterFirstPass = await store.ListOverageAsync(sent: false, 10, CancellationToken.None);
        var callsInFirstPass = stripe.To(MeterEvents).Count();

        stripe.AfterMeterEvent = null;
        clock.Advance(TimeSpan.FromMinutes(1)); // past the first row's back-off and the second row's lease
        await reporter.RunOnceAsync(CancellationToken.None);

        // Assert: one call in the first pass, cut when the claim ran out; the second row never started
        Assert.Equal(2, claimed);
        Assert.Equal(1, callsInFirstPass);
        var first = Assert.Single(afterFirstPass, r => r.Units == 2);
        var second = Assert.Single(afterFirstPass, r => r.Units == 3);
        Assert.Equal("the billing provider did not answer before this instance's claim on the row ran out", first.LastError);
        Assert.Equal("", second.LastError);
        Assert.Contains(logger.Entries, e => e.EventId == 9121 && e.Message.Contains(first.Id, StringComparison.Ordinal));
        Assert.Contains(logger.Entries, e => e.EventId == 9125 && e.Message.Contains(second.Id, StringComparison.Ordinal));

        // … and then each row billed once: the first row's resend carried the same idempotency key
        Assert.Equal(
            new[] { first.Id, second.Id }.Order(StringComparer.Ordinal),
            stripe.Billed.Select(r => r.Form["identifier"]).Order(StringComparer.Ordinal));
        Assert.Equal(3, stripe.To(MeterEvents).Count());
        Assert.Equal(2, stripe.To(MeterEvents).Count(r => r.IdempotencyKey == first.Id));
        Assert.Equal(2, (await store.GetOverageTotalsAsync(CancellationToken.None)).SentRows);
        Assert.Empty(await store.ListOverageAsync(sent: false, 10, CancellationToken.None));
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task MarkFailed_ErrorWithNulEscapeAndAPairAtTheCut_StoredOnOneLineOfAtMost500WithoutHalfACharacter(string engine)
    {
        // Arrange: an error quoting what a provider or a proxy on the way sent — PostgreSQL refuses a NUL, and a cut at
        // 500 through a surrogate pair would leave half a character, which it refuses too
        var store = (await engines.CreateAsync(engine)).Store;
        var (billed, _) = await BillingStoreTests.SetUpAsync(store);
        await store.AddUsageEventsAsync([BillingStoreTests.Event(billed, 2, 0)], CancellationToken.None);
        var row = Assert.Single(await store.ClaimOverageAsync("a", 10, BillingStoreTests.Now, TimeSpan.FromMinutes(5), CancellationToken.None));
        const string Quoted = "bad\0answer\u001b[2K\r\n";
        var error = Quoted + new string('x', 499 - Quoted.Length) + "\U0001F600 and more"; // the pair at 499–500

        // Act
        await store.MarkOverageFailedAsync(row.Id, "a", BillingStoreTests.Now.AddSeconds(10), error, CancellationToken.None);

        // Assert
        var stored = Assert.Single(await store.ListOverageAsync(sent: false, 10, CancellationToken.None)).LastError;
        Assert.Equal("bad answer [2K  " + new string('x', 499 - Quoted.Length), stored);
    }
}
