using ApiGate.Core.Management;
using System.Net;
using System.Text.Json;
using ApiGate.Core.Identity;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary><c>POST /billing/stripe/webhook</c>: signed events change plans once, in the subscription's own order; anything else changes nothing.</summary>
public sealed class StripeWebhookTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task CheckoutCompleted_SignedEvent_MovesUserToThePlanAndReplayChangesNothing(string engine)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var user = await h.CreateCustomerAsync("ann@example.com", "cus_ann");
        var payload = StripeEvents.CheckoutCompleted("evt_checkout_1", Now, "cus_ann", "sub_1", user, "pro");

        // Act
        var first = await h.PostWebhookAsync(payload);
        var versionAfterFirst = await h.Gateway.Store.GetConfigVersionAsync(CancellationToken.None);
        var replay = await h.PostWebhookAsync(payload);

        // Assert
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal("processed", first.Body.GetProperty("result").GetString());
        Assert.Equal(HttpStatusCode.OK, replay.Status);
        Assert.Equal("duplicate", replay.Body.GetProperty("result").GetString());
        Assert.Equal("pro", (await h.UserAsync(user)).PlanId);
        Assert.Equal(versionAfterFirst, await h.Gateway.Store.GetConfigVersionAsync(CancellationToken.None));
        var customer = await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None);
        Assert.Equal("sub_1", customer!.SubscriptionId);
        Assert.Equal("active", customer.SubscriptionStatus);
    }

    [Fact]
    public async Task CheckoutCompleted_PaymentStillClearing_PlanChangesOnlyOnceStripeSaysThePaymentSucceeded()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("uma@example.com", "cus_uma");

        // Act: the checkout completes with its bank debit still clearing; days later Stripe says the payment succeeded
        var completed = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_u1", Now - 10, "cus_uma", "sub_u", user, "pro", paymentStatus: "unpaid"));
        var planWhileClearing = (await h.UserAsync(user)).PlanId;
        var customerWhileClearing = await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None);
        var paid = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_u2", Now, "cus_uma", "sub_u", user, "pro",
            type: "checkout.session.async_payment_succeeded"));

        // Assert: nothing paid, nothing given; the subscription is recorded (no second checkout meanwhile)
        Assert.Equal(HttpStatusCode.OK, completed.Status);
        Assert.Equal("subscription incomplete: plan unchanged", completed.Body.GetProperty("message").GetString());
        Assert.Equal("free", planWhileClearing);
        Assert.Equal(("sub_u", "incomplete"), (customerWhileClearing!.SubscriptionId, customerWhileClearing.SubscriptionStatus));
        Assert.Equal(HttpStatusCode.OK, paid.Status);
        Assert.Equal("plan pro", paid.Body.GetProperty("message").GetString());
        Assert.Equal("pro", (await h.UserAsync(user)).PlanId);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task Webhook_BadSignature_Answers400AndChangesNothing(string engine)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var user = await h.CreateCustomerAsync("bob@example.com", "cus_bob");
        var payload = StripeEvents.CheckoutCompleted("evt_forged", Now, "cus_bob", "sub_2", user, "team");

        // Act
        var forged = await h.PostWebhookAsync(payload, secret: "whsec_not_the_right_secret");

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, forged.Status);
        Assert.Equal("invalid_signature", forged.Body.GetProperty("errors")[0].GetProperty("code").GetString());
        Assert.Equal("free", (await h.UserAsync(user)).PlanId);
        Assert.False(await h.Gateway.Store.IsBillingEventProcessedAsync("evt_forged", CancellationToken.None));
        // The same event genuinely signed is then processed: the forged copy did not use up its id.
        Assert.Equal(HttpStatusCode.OK, (await h.PostWebhookAsync(payload)).Status);
        Assert.Equal("team", (await h.UserAsync(user)).PlanId);
    }

    [Fact]
    public async Task Webhook_TimestampOutsideTolerance_Answers400AndChangesNothing()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("cat@example.com", "cus_cat");
        var payload = StripeEvents.CheckoutCompleted("evt_stale", Now, "cus_cat", "sub_3", user, "pro");

        // Act: a correct signature made ten minutes ago (the tolerance is five), as a captured request replayed later would be
        var stale = await h.PostWebhookAsync(payload, signedAt: DateTimeOffset.UtcNow.AddMinutes(-10));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, stale.Status);
        Assert.Contains("tolerance", stale.Body.GetProperty("errors")[0].GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("free", (await h.UserAsync(user)).PlanId);
    }

    [Fact]
    public async Task Webhook_StoreLockedByAnotherConnection_Answers503UnrecordedAndStripesRetryAppliesItOnce()
    {
        // Arrange: another process (a CLI command, a backup) holds the SQLite store's write lock when the event arrives
        var log = new CapturedLog();
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite, log: log);
        var endpoint = await h.CreateWebhookEndpointAsync("subscription.started", "plan.changed");
        var user = await h.CreateCustomerAsync("lou@example.com", "cus_lou");
        var payload = StripeEvents.CheckoutCompleted("evt_locked", Now, "cus_lou", "sub_lou", user, "pro");
        var holder = await SqliteWriteLock.HoldAsync(h.Gateway.DatabasePath);
        (HttpStatusCode Status, System.Text.Json.JsonElement Body) locked;
        try
        {
            // Act
            locked = await h.PostWebhookAsync(payload);
        }
        finally
        {
            await SqliteWriteLock.ReleaseAsync(holder);
            await holder.DisposeAsync();
        }

        var stateWhileLocked = (Plan: (await h.UserAsync(user)).PlanId, Recorded: await h.Gateway.Store.IsBillingEventProcessedAsync("evt_locked", CancellationToken.None));
        var retry = await h.PostWebhookAsync(payload);
        var replay = await h.PostWebhookAsync(payload);

        // Assert: a status Stripe retries (before: an unhandled exception, 500 with an empty body), nothing recorded
        Assert.Equal(HttpStatusCode.ServiceUnavailable, locked.Status);
        var error = locked.Body.GetProperty("errors")[0];
        Assert.Equal("store_busy", error.GetProperty("code").GetString());
        Assert.Equal("The store could not take the event for now; the event was not recorded: deliver it again.", error.GetProperty("detail").GetString());
        Assert.Equal(("free", false), stateWhileLocked);
        Assert.Equal(HttpStatusCode.OK, retry.Status);
        Assert.Equal("processed", retry.Body.GetProperty("result").GetString());
        Assert.Equal("duplicate", replay.Body.GetProperty("result").GetString());
        Assert.Equal("pro", (await h.UserAsync(user)).PlanId);
        var deliveries = await h.Gateway.Store.ListWebhookDeliveriesAsync(endpoint, 10, CancellationToken.None);
        Assert.Equal(["plan.changed", "subscription.started"], deliveries.Select(d => d.EventType).Order(StringComparer.Ordinal).ToArray());
        var written = await log.UpToMarkerAsync(h.Gateway);
        Assert.Single(written.Split('\n'), l => l.Contains("\"EventId\":9101", StringComparison.Ordinal) && l.Contains("store_busy", StringComparison.Ordinal));
        Assert.DoesNotContain("An unhandled exception", written, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Webhook_PostgresDiskFull_Answers503WithoutBlamingALock()
    {
        // Arrange: nothing is locked; PostgreSQL refuses the event's write as a server whose disk is full does (a
        // condition it may recover from, so the store counts it as busy, as it does a server that does not answer)
        var log = new CapturedLog();
        var dsn = "";
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Postgres, log: log, configure: o => dsn = o.DatabaseDsn);
        var user = await h.CreateCustomerAsync("pia@example.com", "cus_pia");
        var payload = StripeEvents.CheckoutCompleted("evt_full", Now, "cus_pia", "sub_pia", user, "pro");
        await using (var admin = new Npgsql.NpgsqlConnection(dsn))
        {
            await admin.OpenAsync();
            await using var full = admin.CreateCommand();
            full.CommandText = """
                CREATE FUNCTION no_space() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$;
                CREATE TRIGGER no_space BEFORE INSERT ON billing_events FOR EACH ROW EXECUTE FUNCTION no_space();
                """;
            await full.ExecuteNonQueryAsync();
        }

        // Act
        var refused = await h.PostWebhookAsync(payload);

        // Assert: refused for a retry, without naming a cause it did not have (before: "locked by another process");
        // the server's own words are in the operator's log
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        var error = refused.Body.GetProperty("errors")[0];
        Assert.Equal("store_busy", error.GetProperty("code").GetString());
        Assert.Equal("The store could not take the event for now; the event was not recorded: deliver it again.", error.GetProperty("detail").GetString());
        Assert.False(await h.Gateway.Store.IsBillingEventProcessedAsync("evt_full", CancellationToken.None));
        var written = await log.UpToMarkerAsync(h.Gateway);
        Assert.Single(written.Split('\n'), l => l.Contains("\"EventId\":9101", StringComparison.Ordinal) && l.Contains("No space left on device", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("2147483648")]
    [InlineData("9223372036854775807")]
    [InlineData("soon")]
    public async Task Webhook_SignedWithATimestampThatIsNotAUnixTime_Answers400NamingTheHeaderNotTheBody(string t)
    {
        // Arrange: a valid event, its signature computed over that t= (a forged or garbled header; Stripe never sends one)
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("tim@example.com", "cus_tim");
        var payload = StripeEvents.CheckoutCompleted("evt_t", Now, "cus_tim", "sub_t", user, "pro");
        using var request = new HttpRequestMessage(HttpMethod.Post, h.Gateway.Url + "/billing/stripe/webhook")
        {
            Content = new StringContent(payload, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Stripe-Signature", StripeSignature.Sign(payload, BillingHarness.WebhookSecret, t));

        // Act
        using var response = await h.Gateway.Client.SendAsync(request);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];

        // Assert: before, "the body is not a Stripe event" for a body that is one
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_signature", error.GetProperty("code").GetString());
        Assert.Equal("the Stripe-Signature header's timestamp (t=) is not a Unix time Stripe sends", error.GetProperty("detail").GetString());
        Assert.False(await h.Gateway.Store.IsBillingEventProcessedAsync("evt_t", CancellationToken.None));
        Assert.Equal("free", (await h.UserAsync(user)).PlanId);
    }

    [Fact]
    public async Task CheckoutCompleted_NamingNoCustomerForAUserWithoutABillingRecord_IgnoredSayingWhyAndNothingChanged()
    {
        // Arrange: a user who never started a checkout here, named by an event's metadata only (no customer id)
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.Gateway.Users.CreateAsync(new UserChanges { Email = "nocus@example.com", Plan = "free" }, CancellationToken.None);
        var id = user.Value!.Id;

        // Act
        var answer = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_nc1", Now, "", "sub_nc", id, "pro"));

        // Assert: recorded as ignored (Stripe does not send it again), nothing changed
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("processed", answer.Body.GetProperty("result").GetString());
        Assert.Equal($"ignored: the event names no customer and user {id} has no billing customer", answer.Body.GetProperty("message").GetString());
        Assert.Equal("free", (await h.UserAsync(id)).PlanId);
        Assert.Null(await h.Gateway.Store.FindBillingCustomerAsync(id, CancellationToken.None));
    }

    [Fact]
    public async Task CheckoutPaymentFailed_NamingNoCustomerForAUserWithoutABillingRecord_IgnoredSayingWhyAndNothingChanged()
    {
        // Arrange: as above, but the checkout's delayed payment failed
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.Gateway.Users.CreateAsync(new UserChanges { Email = "nocus2@example.com", Plan = "free" }, CancellationToken.None);
        var id = user.Value!.Id;

        // Act
        var answer = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_nc2", Now, "", "sub_nc2", id, "pro", paymentStatus: "unpaid",
            type: "checkout.session.async_payment_failed"));

        // Assert: recorded as ignored, as for the completed checkout (before: a NullReferenceException, 500, retried by Stripe for days)
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("processed", answer.Body.GetProperty("result").GetString());
        Assert.Equal($"ignored: the event names no customer and user {id} has no billing customer", answer.Body.GetProperty("message").GetString());
        Assert.Equal(("free", UserStatus.Active), ((await h.UserAsync(id)).PlanId, (await h.UserAsync(id)).Status));
        Assert.Null(await h.Gateway.Store.FindBillingCustomerAsync(id, CancellationToken.None));
    }

    [Fact]
    public async Task CheckoutPaymentFailed_AfterItCompletedUnpaid_SubscriptionDroppedPlanKeptPaymentFailedSentAndANewCheckoutStarts()
    {
        // Arrange: a checkout completed with its bank debit still clearing
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var endpoint = await h.CreateWebhookEndpointAsync("payment.failed");
        var user = await h.CreateCustomerAsync("vic@example.com", "cus_vic");
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_v1", Now - 10, "cus_vic", "sub_v", user, "pro", paymentStatus: "unpaid"));

        // Act: the debit fails; the customer tries again
        var failed = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_v2", Now, "cus_vic", "sub_v", user, "pro",
            paymentStatus: "unpaid", type: "checkout.session.async_payment_failed"));
        var again = await h.Gateway.Service<BillingService>().StartCheckoutAsync(user, "pro", "https://portal.example.com/ok", "https://portal.example.com/back", CancellationToken.None);

        // Assert
        Assert.Equal(HttpStatusCode.OK, failed.Status);
        Assert.Equal("checkout payment failed: subscription sub_v dropped, plan unchanged", failed.Body.GetProperty("message").GetString());
        Assert.Equal(("free", UserStatus.Active), ((await h.UserAsync(user)).PlanId, (await h.UserAsync(user)).Status));
        var customer = await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None);
        Assert.Equal(("sub_v", "checkout_payment_failed"), (customer!.SubscriptionId, customer.SubscriptionStatus));
        var delivery = Assert.Single(await h.Gateway.Store.ListWebhookDeliveriesAsync(endpoint, 50, CancellationToken.None));
        Assert.Equal("payment.failed", delivery.EventType);
        Assert.True(again.Ok, again.Error?.ToString());
    }

    [Fact]
    public async Task CheckoutPaymentFailed_EventsAboutThatCheckoutDeliveredLate_NeitherRecordItAgainNorSuspend()
    {
        // Arrange: the failure arrives first; the completion and the failed invoice (created before it) are delivered after
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("wes@example.com", "cus_wes");
        var t = Now - 100;
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_w2", t + 50, "cus_wes", "sub_w", user, "pro",
            paymentStatus: "unpaid", type: "checkout.session.async_payment_failed"));

        // Act
        var completed = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_w1", t, "cus_wes", "sub_w", user, "pro", paymentStatus: "unpaid"));
        var invoice = await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_w3", t + 60, "cus_wes", "sub_w"));

        // Assert
        Assert.StartsWith("ignored: stale", completed.Body.GetProperty("message").GetString());
        Assert.StartsWith("ignored: the checkout of subscription sub_w was never paid", invoice.Body.GetProperty("message").GetString());
        Assert.Equal(UserStatus.Active, (await h.UserAsync(user)).Status);
        var customer = await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None);
        Assert.Equal("checkout_payment_failed", customer!.SubscriptionStatus);
    }

    [Fact]
    public async Task PaymentFailed_ForACheckoutStillUnpaid_UserNeitherSuspendedNorMoved_PaymentFailedSent()
    {
        // Arrange: the checkout completed unpaid (a bank debit still clearing), so the user is still on free
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var endpoint = await h.CreateWebhookEndpointAsync("payment.failed");
        var user = await h.CreateCustomerAsync("xia@example.com", "cus_xia");
        var t = Now - 100;
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_x1", t, "cus_xia", "sub_x", user, "pro", paymentStatus: "unpaid"));

        // Act: its first invoice fails (the default rule is suspend)
        var failed = await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_x2", t + 10, "cus_xia", "sub_x"));

        // Assert: the plan was never given, so nothing is taken back; the operator still hears of it
        Assert.Equal("payment failed: subscription sub_x never started, nothing changed", failed.Body.GetProperty("message").GetString());
        var after = await h.UserAsync(user);
        Assert.Equal(("free", UserStatus.Active), (after.PlanId, after.Status));
        Assert.False((await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None))!.SuspendedByBilling);
        var delivery = Assert.Single(await h.Gateway.Store.ListWebhookDeliveriesAsync(endpoint, 50, CancellationToken.None));
        Assert.Equal("payment.failed", delivery.EventType);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task SubscriptionEvents_DeliveredOutOfOrder_TheSubscriptionsNewestStateWins(string engine)
    {
        // Arrange: the subscription moved pro → team (t+10) and was then cancelled (t+20); Stripe delivers t+10, t+5, t+20, t+15
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var user = await h.CreateCustomerAsync("dan@example.com", "cus_dan");
        var t = Now - 100;

        // Act + Assert, step by step
        Assert.Equal(HttpStatusCode.OK, (await h.PostWebhookAsync(
            StripeEvents.Subscription("evt_b", "customer.subscription.updated", t + 10, "sub_d", "cus_dan", "active", t, "price_team"))).Status);
        Assert.Equal("team", (await h.UserAsync(user)).PlanId);

        var older = await h.PostWebhookAsync(StripeEvents.Subscription("evt_a", "customer.subscription.updated", t + 5, "sub_d", "cus_dan", "active", t, "price_pro"));
        Assert.Equal(HttpStatusCode.OK, older.Status);
        Assert.StartsWith("ignored: stale", older.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("team", (await h.UserAsync(user)).PlanId);

        Assert.Equal(HttpStatusCode.OK, (await h.PostWebhookAsync(
            StripeEvents.Subscription("evt_d", "customer.subscription.deleted", t + 20, "sub_d", "cus_dan", "canceled", t, "price_team"))).Status);
        Assert.Equal("free", (await h.UserAsync(user)).PlanId);

        var late = await h.PostWebhookAsync(StripeEvents.Subscription("evt_c", "customer.subscription.updated", t + 15, "sub_d", "cus_dan", "active", t, "price_team"));
        Assert.Equal(HttpStatusCode.OK, late.Status);
        Assert.StartsWith("ignored:", late.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("free", (await h.UserAsync(user)).PlanId);
    }

    [Fact]
    public async Task SubscriptionUpdated_OlderSubscriptionThanTheCurrentOne_IsIgnored()
    {
        // Arrange: the user resubscribed (sub_new, created later); a late event about the old subscription arrives
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("eve@example.com", "cus_eve");
        var t = Now - 100;
        await h.PostWebhookAsync(StripeEvents.Subscription("evt_new", "customer.subscription.updated", t + 50, "sub_new", "cus_eve", "active", t + 40, "price_team"));

        // Act
        var old = await h.PostWebhookAsync(StripeEvents.Subscription("evt_old", "customer.subscription.deleted", t + 60, "sub_old", "cus_eve", "canceled", t, "price_pro"));

        // Assert
        Assert.Equal(HttpStatusCode.OK, old.Status);
        Assert.Contains("older than the user's current subscription", old.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("team", (await h.UserAsync(user)).PlanId);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task SubscriptionDeleted_PayingUser_MovesToTheDefaultPlan(string engine)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var user = await h.CreateCustomerAsync("fay@example.com", "cus_fay");
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_f1", Now - 10, "cus_fay", "sub_f", user, "pro"));
        Assert.Equal("pro", (await h.UserAsync(user)).PlanId);

        // Act
        var deleted = await h.PostWebhookAsync(StripeEvents.Subscription("evt_f2", "customer.subscription.deleted", Now, "sub_f", "cus_fay", "canceled", Now - 10, "price_pro"));

        // Assert
        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        Assert.Equal("free", (await h.UserAsync(user)).PlanId);
        Assert.Equal("canceled", (await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None))!.SubscriptionStatus);
    }

    [Fact]
    public async Task SubscriptionUpdated_UnknownPriceId_Answers422NamingThePriceAndChangesNothing()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("gus@example.com", "cus_gus");
        var payload = StripeEvents.Subscription("evt_g", "customer.subscription.updated", Now, "sub_g", "cus_gus", "active", Now - 5, "price_nobody_has");

        // Act
        var response = await h.PostWebhookAsync(payload);

        // Assert
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.Status);
        Assert.Equal(
            "unknown price id(s) price_nobody_has: no plan has it as its stripe_price_id (set it with apigate plans update --stripe-price-id), nor, for a plan " +
            "priced 0 a month sold with its metered price alone, as its stripe_overage_price_id (set it with apigate plans update --stripe-overage-price-id)",
            response.Body.GetProperty("errors")[0].GetProperty("detail").GetString());
        Assert.Equal("free", (await h.UserAsync(user)).PlanId);
        Assert.False(await h.Gateway.Store.IsBillingEventProcessedAsync("evt_g", CancellationToken.None)); // Stripe retries it once the plan exists
    }

    [Fact]
    public async Task SubscriptionUpdated_PriceNoPlanHasForACustomerWhoIsNotAUser_Answers200IgnoredAndRecorded()
    {
        // Arrange: the Stripe account also sells something else; its customers' subscriptions reach this endpoint too
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var payload = StripeEvents.Subscription("evt_other_sub", "customer.subscription.updated", Now, "sub_other", "cus_other", "active", Now - 5, "price_other_product");

        // Act
        var response = await h.PostWebhookAsync(payload);

        // Assert: ignored like any event about a customer who is not a user here (before: 422 for ever, no plan could
        // ever take that price for this customer, and Stripe retried it for days and then disabled the endpoint)
        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal("processed", response.Body.GetProperty("result").GetString());
        Assert.Equal("ignored: customer cus_other is not a user of this gateway", response.Body.GetProperty("message").GetString());
        Assert.True(await h.Gateway.Store.IsBillingEventProcessedAsync("evt_other_sub", CancellationToken.None));
    }

    [Fact]
    public async Task CheckoutCompleted_NotStartedByThisGatewayForACustomerWhoIsNotAUser_Answers200IgnoredAndRecorded()
    {
        // Arrange: another product's checkout on the same Stripe account: no apigate_user, no apigate_plan
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var payload = StripeEvents.CheckoutCompleted("evt_other_checkout", Now, "cus_other", "sub_other", userId: "", planId: "");

        // Act
        var response = await h.PostWebhookAsync(payload);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal("processed", response.Body.GetProperty("result").GetString());
        Assert.Equal("ignored: customer cus_other is not a user of this gateway", response.Body.GetProperty("message").GetString());
        Assert.True(await h.Gateway.Store.IsBillingEventProcessedAsync("evt_other_checkout", CancellationToken.None));
    }

    [Theory]
    [InlineData("suspend", "pro", UserStatus.Suspended)]
    [InlineData("default-plan", "free", UserStatus.Active)]
    [InlineData("none", "pro", UserStatus.Active)]
    public async Task PaymentFailed_PerSetting_SuspendsMovesOrOnlyRecords(string setting, string expectedPlan, UserStatus expectedStatus)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite, paymentFailed: setting);
        var user = await h.CreateCustomerAsync("hal@example.com", "cus_hal");
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_h1", Now - 10, "cus_hal", "sub_h", user, "pro"));

        // Act
        var failed = await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_h2", Now, "cus_hal"));

        // Assert
        Assert.Equal(HttpStatusCode.OK, failed.Status);
        var after = await h.UserAsync(user);
        Assert.Equal(expectedPlan, after.PlanId);
        Assert.Equal(expectedStatus, after.Status);
        Assert.True(await h.Gateway.Store.IsBillingEventProcessedAsync("evt_h2", CancellationToken.None));
    }

    [Fact]
    public async Task PaymentFailedThenSubscriptionActive_SuspendedByBilling_IsReactivated()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("ida@example.com", "cus_ida");
        var t = Now - 100;
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_i1", t, "cus_ida", "sub_i", user, "pro"));
        await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_i2", t + 10, "cus_ida"));
        Assert.Equal(UserStatus.Suspended, (await h.UserAsync(user)).Status);

        // Act: the card is updated and the invoice paid
        var paid = await h.PostWebhookAsync(StripeEvents.Subscription("evt_i3", "customer.subscription.updated", t + 20, "sub_i", "cus_ida", "active", t, "price_pro"));

        // Assert
        Assert.Equal(HttpStatusCode.OK, paid.Status);
        Assert.Equal(UserStatus.Active, (await h.UserAsync(user)).Status);
    }

    [Fact]
    public async Task PaymentFailed_OlderThanTheActiveConfirmation_IgnoredAndUserStaysActive()
    {
        // Arrange: paid at t+100; the failure it settled (created at t+50) is redelivered after that
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("lee@example.com", "cus_lee");
        var t = Now - 200;
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_l1", t, "cus_lee", "sub_l", user, "pro"));
        await h.PostWebhookAsync(StripeEvents.Subscription("evt_l2", "customer.subscription.updated", t + 100, "sub_l", "cus_lee", "active", t, "price_pro"));

        // Act
        var late = await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_l3", t + 50, "cus_lee", "sub_l"));

        // Assert
        Assert.Equal(HttpStatusCode.OK, late.Status);
        Assert.StartsWith("ignored: stale", late.Body.GetProperty("message").GetString());
        var after = await h.UserAsync(user);
        Assert.Equal(("pro", UserStatus.Active), (after.PlanId, after.Status));
    }

    [Fact]
    public async Task PaymentFailed_ForAnotherSubscriptionThanTheCurrent_Ignored()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("max@example.com", "cus_max");
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_m1", Now - 10, "cus_max", "sub_m2", user, "pro"));

        // Act: an invoice of an older subscription of the same customer fails
        var other = await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_m2", Now, "cus_max", "sub_m1"));

        // Assert
        Assert.StartsWith("ignored: the failed invoice is for subscription sub_m1", other.Body.GetProperty("message").GetString());
        Assert.Equal(UserStatus.Active, (await h.UserAsync(user)).Status);
    }

    [Fact]
    public async Task PaymentFailedThenSubscriptionDeleted_UserOnTheDefaultPlanAndActiveAgain()
    {
        // Arrange: the card fails (suspended), Stripe's retries fail, the subscription is cancelled
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("ned@example.com", "cus_ned");
        var t = Now - 100;
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_n1", t, "cus_ned", "sub_n", user, "pro"));
        await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_n2", t + 10, "cus_ned", "sub_n"));
        Assert.Equal(UserStatus.Suspended, (await h.UserAsync(user)).Status);

        // Act
        var deleted = await h.PostWebhookAsync(StripeEvents.Subscription("evt_n3", "customer.subscription.deleted", t + 20, "sub_n", "cus_ned", "canceled", t, "price_pro"));
        var lateFailure = await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_n4", t + 15, "cus_ned", "sub_n"));

        // Assert: on the default plan, able to sign in and subscribe again; a late failure of the ended one changes nothing
        Assert.Equal("subscription ended: plan free, reactivated", deleted.Body.GetProperty("message").GetString());
        Assert.StartsWith("ignored: subscription sub_n has already ended", lateFailure.Body.GetProperty("message").GetString());
        var after = await h.UserAsync(user);
        Assert.Equal(("free", UserStatus.Active), (after.PlanId, after.Status));
    }

    [Theory]
    [InlineData("{\"id\":\"evt_bad\",\"object\":\"event\",\"created\":")]
    [InlineData("{\"id\":\"evt_big\",\"object\":\"event\",\"created\":99999999999999999999999,\"type\":\"invoice.payment_failed\"}")]
    public async Task Webhook_SignedButNotAStripeEvent_Answers400(string payload)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);

        // Act: correctly signed (only Stripe or a holder of the secret could send it), but not an event
        var response = await h.PostWebhookAsync(payload);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"id\":\"evt_no_type\",\"object\":\"event\",\"created\":1700000000}")]
    [InlineData("{\"object\":\"event\",\"type\":\"customer.created\",\"created\":1700000000}")]
    [InlineData("{\"id\":\"\",\"object\":\"event\",\"type\":\"customer.created\",\"created\":1700000000}")]
    public async Task Webhook_SignedButWithoutAnEventIdOrType_Answers400AndRecordsNothing(string payload)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);

        // Act: correctly signed, but with no event id or type (never a Stripe event; an id-less one cannot be de-duplicated)
        using var request = new HttpRequestMessage(HttpMethod.Post, h.Gateway.Url + "/billing/stripe/webhook")
        {
            Content = new StringContent(payload, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Stripe-Signature", StripeSignature.Sign(payload, BillingHarness.WebhookSecret, Now));
        using var response = await h.Gateway.Client.SendAsync(request);

        // Assert: refused like any other body that is not an event (not a 500, not recorded as processed)
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("invalid_signature", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(await h.Gateway.Store.IsBillingEventProcessedAsync("", CancellationToken.None));
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task Webhook_SignedWithANulInAnIdentifier_Answers400NamingItAndRecordsNothing(string engine)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var user = await h.CreateCustomerAsync("nul@example.com", "cus_nul");
        var events = new (string Field, string EventId, string Payload)[]
        {
            ("id", "evt_\u0000a", StripeEvents.Subscription("evt_\u0000a", "customer.subscription.updated", Now, "sub_nul", "cus_nul", "active", Now, "price_pro")),
            ("customer", "evt_nul_b", StripeEvents.Subscription("evt_nul_b", "customer.subscription.updated", Now, "sub_nul", "cus_\u0000nul", "active", Now, "price_pro")),
            ("subscription", "evt_nul_c", StripeEvents.Subscription("evt_nul_c", "customer.subscription.updated", Now, "sub_\u0000nul", "cus_nul", "active", Now, "price_pro")),
        };

        foreach (var (field, eventId, payload) in events)
        {
            // Act, Assert: refused as no event a provider sends; it was 200 on SQLite, and on PostgreSQL (whose text cannot
            // hold a NUL) 503 "store unavailable", which the provider retried for days
            await AssertRefusedAsync(h, payload, $"the event's {field} holds a control character, which no identifier the provider sends has");
            if (field != "id")
            {
                // (an id with a NUL cannot even be looked up on PostgreSQL: the user's state below shows nothing was applied)
                Assert.False(await h.Gateway.Store.IsBillingEventProcessedAsync(eventId, CancellationToken.None));
            }
        }

        Assert.Equal("free", (await h.UserAsync(user)).PlanId);
        Assert.Equal("", (await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None))!.SubscriptionId);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task Webhook_SignedWithAnIdentifierOver255Characters_Answers400NamingItAndRecordsNothing(string engine)
    {
        // Arrange: Stripe's ids are at most 255 characters; each event below has one identifier a character longer
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var user = await h.CreateCustomerAsync("long@example.com", "cus_long");
        var tooLong = new string('x', 256);
        var events = new (string Field, string EventId, string Payload)[]
        {
            ("id", "evt_" + tooLong, StripeEvents.Subscription("evt_" + tooLong, "customer.subscription.updated", Now, "sub_long", "cus_long", "active", Now, "price_pro")),
            ("customer", "evt_long_b", StripeEvents.Subscription("evt_long_b", "customer.subscription.updated", Now, "sub_long", "cus_" + tooLong, "active", Now, "price_pro")),
            ("subscription", "evt_long_c", StripeEvents.Subscription("evt_long_c", "customer.subscription.updated", Now, "sub_" + tooLong, "cus_long", "active", Now, "price_pro")),
            ("price", "evt_long_d", StripeEvents.Subscription("evt_long_d", "customer.subscription.updated", Now, "sub_long", "cus_long", "active", Now, "price_" + tooLong)),
        };

        foreach (var (field, eventId, payload) in events)
        {
            // Act, Assert: before, each was taken (stored or answered 422 for the price) with no bound but the body's 256 KiB
            await AssertRefusedAsync(h, payload, $"the event's {field} is longer than 255 characters, which no identifier the provider sends is");
            Assert.False(await h.Gateway.Store.IsBillingEventProcessedAsync(eventId, CancellationToken.None));
        }

        Assert.Equal("free", (await h.UserAsync(user)).PlanId);
        Assert.Equal("", (await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None))!.SubscriptionId);
    }

    /// <summary>Posts a signed event and checks it was refused with 400 <c>invalid_signature</c> and exactly <paramref name="detail"/>.</summary>
    private static async Task AssertRefusedAsync(BillingHarness h, string payload, string detail)
    {
        var response = await h.PostWebhookAsync(payload);
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        var error = response.Body.GetProperty("errors")[0];
        Assert.Equal("invalid_signature", error.GetProperty("code").GetString());
        Assert.Equal(detail, error.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Webhook_SignedWithIdentifiersOf255Characters_Processed()
    {
        // Arrange: the longest ids Stripe sends
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var customerId = "cus_" + new string('c', 251);
        var user = await h.CreateCustomerAsync("longest@example.com", customerId);
        var eventId = "evt_" + new string('e', 251);
        var subscriptionId = "sub_" + new string('s', 251);

        // Act
        var response = await h.PostWebhookAsync(StripeEvents.Subscription(eventId, "customer.subscription.updated", Now, subscriptionId, customerId, "active", Now, "price_pro"));

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal("processed", response.Body.GetProperty("result").GetString());
        Assert.True(await h.Gateway.Store.IsBillingEventProcessedAsync(eventId, CancellationToken.None));
        Assert.Equal("pro", (await h.UserAsync(user)).PlanId);
        Assert.Equal(subscriptionId, (await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None))!.SubscriptionId);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task Webhook_SignedWithATypeStatusOrMetadataPastItsBound_Answers400NamingItAndRecordsNothing(string engine)
    {
        // Arrange: each event has one field a character (or key) past its bound: type and status 255 characters like
        // Stripe's ids, metadata as Stripe stores it (50 keys, keys of 40 characters, values of 500)
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var user = await h.CreateCustomerAsync("bounds@example.com", "cus_bounds");
        var manyKeys = Enumerable.Range(0, 51).ToDictionary(i => $"k{i}", _ => "v");
        var events = new (string EventId, string Payload, string Detail)[]
        {
            ("evt_type", StripeEvents.Subscription("evt_type", "customer.subscription." + new string('t', 256 - 22), Now, "sub_b", "cus_bounds", "active", Now, "price_pro"),
                "the event's type is longer than 255 characters, which no type the provider sends is"),
            ("evt_status", StripeEvents.Subscription("evt_status", "customer.subscription.updated", Now, "sub_b", "cus_bounds", new string('s', 256), Now, "price_pro"),
                "the event's status is longer than 255 characters, which no status the provider sends is"),
            ("evt_reference", StripeEvents.CheckoutCompleted("evt_reference", Now, "cus_bounds", "sub_b", user, "pro", clientReferenceId: new string('u', 501)),
                "the event's user is longer than 500 characters, which no user the provider sends is"),
            ("evt_plan", StripeEvents.CheckoutCompleted("evt_plan", Now, "cus_bounds", "sub_b", user, new string('p', 501)),
                "the event's metadata has a value (key 'apigate_plan') longer than 500 characters, the most Stripe stores"),
            ("evt_keys", StripeEvents.Subscription("evt_keys", "customer.subscription.updated", Now, "sub_b", "cus_bounds", "active", Now, manyKeys, "price_pro"),
                "the event's metadata has more than 50 keys, the most Stripe stores"),
            ("evt_key", StripeEvents.Subscription("evt_key", "customer.subscription.updated", Now, "sub_b", "cus_bounds", "active", Now,
                new Dictionary<string, string> { [new string('k', 41)] = "v" }, "price_pro"),
                "the event's metadata has a key longer than 40 characters, the most Stripe stores"),
        };

        foreach (var (eventId, payload, detail) in events)
        {
            // Act, Assert: before, each was processed and its text stored (the type, the status) or quoted, bounded only by the body's 256 KiB
            await AssertRefusedAsync(h, payload, detail);
            Assert.False(await h.Gateway.Store.IsBillingEventProcessedAsync(eventId, CancellationToken.None));
        }

        Assert.Equal("free", (await h.UserAsync(user)).PlanId);
        Assert.Equal("", (await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None))!.SubscriptionId);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task Webhook_SignedWithATypeStatusOrMetadataAtItsBound_Processed(string engine)
    {
        // Arrange: each field at its bound
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var user = await h.CreateCustomerAsync("bounded@example.com", "cus_bounded");
        var longestType = "customer.subscription." + new string('t', 255 - 22);
        var longestStatus = new string('s', 255);
        var fullMetadata = Enumerable.Range(0, 49).ToDictionary(i => $"k{i}", _ => "v");
        fullMetadata[new string('k', 40)] = new string('v', 500);

        // Act
        var type = await h.PostWebhookAsync(StripeEvents.Subscription("evt_type", longestType, Now, "sub_t", "cus_bounded", "active", Now, "price_pro"));
        var status = await h.PostWebhookAsync(StripeEvents.Subscription("evt_status", "customer.subscription.updated", Now, "sub_s", "cus_bounded", longestStatus, Now, "price_pro"));
        var metadata = await h.PostWebhookAsync(StripeEvents.Subscription("evt_metadata", "customer.subscription.updated", Now + 1, "sub_m", "cus_bounded", "active", Now + 1, fullMetadata, "price_pro"));
        var reference = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_reference", Now + 2, "cus_bounded", "sub_m", user, "pro", clientReferenceId: new string('u', 500)));

        // Assert
        foreach (var (eventId, response) in new[] { ("evt_type", type), ("evt_status", status), ("evt_metadata", metadata), ("evt_reference", reference) })
        {
            Assert.Equal(HttpStatusCode.OK, response.Status);
            Assert.Equal("processed", response.Body.GetProperty("result").GetString());
            Assert.True(await h.Gateway.Store.IsBillingEventProcessedAsync(eventId, CancellationToken.None), eventId);
        }

        Assert.Equal("pro", (await h.UserAsync(user)).PlanId);
        Assert.Equal("sub_m", (await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None))!.SubscriptionId);
    }

    [Fact]
    public async Task PlanWithAStripePriceAnotherPlanHas_RefusedWith409NamingThatPlan()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);

        // Act: a second plan on pro's price (a renewal of it would move the subscriber to whichever plan is found first)
        var created = await h.Gateway.Plans.CreateAsync(new PlanInput { Id = "partner", Name = "Partner", StripePriceId = "price_pro" }, CancellationToken.None);
        var updated = await h.Gateway.Plans.UpdateAsync("team", new PlanInput { StripePriceId = "price_pro" }, CancellationToken.None);
        var same = await h.Gateway.Plans.UpdateAsync("pro", new PlanInput { StripePriceId = "price_pro", Name = "Pro 2" }, CancellationToken.None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "stripe_price_id"), (created.Error!.Kind, created.Error.Field));
        Assert.Contains("is plan 'pro''s already", created.Error.Message, StringComparison.Ordinal);
        Assert.Equal(ManagementErrorKind.Conflict, updated.Error!.Kind);
        Assert.Equal("price_team", (await h.Gateway.Plans.GetAsync("team", CancellationToken.None)).Value!.StripePriceId);
        Assert.True(same.Ok); // its own price again is fine
    }

    [Fact]
    public async Task Webhook_BodyOverTheLimit_Answers413()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var payload = "{\"id\":\"evt_big\",\"pad\":\"" + new string('x', 300 * 1024) + "\"}";

        // Act
        var response = await h.PostWebhookAsync(payload);

        // Assert
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.Status);
        Assert.Equal("request_too_large", response.Body.GetProperty("errors")[0].GetProperty("code").GetString()); // JSON:API, as every gateway error
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task CheckoutCompleted_PlanDeletedBeforeItCompleted_Answers200PlanKeptSubscriptionRecordedAndOperatorTold(string engine)
    {
        // Arrange: a checkout for "team" started, then the plan deleted before the customer finished paying
        var log = new CapturedLog();
        await using var h = await BillingHarness.StartAsync(engines, engine, log: log);
        var endpoint = await h.CreateWebhookEndpointAsync("subscription.unapplied", "subscription.started", "plan.changed");
        var user = await h.CreateCustomerAsync("di@example.com", "cus_di");
        var deleted = await h.Gateway.Plans.DeleteAsync("team", CancellationToken.None);
        Assert.True(deleted.Ok, deleted.Error?.ToString());
        var payload = StripeEvents.CheckoutCompleted("evt_deleted_plan", Now, "cus_di", "sub_di", user, "team");

        // Act
        var response = await h.PostWebhookAsync(payload);
        var replay = await h.PostWebhookAsync(payload);

        // Assert: accepted, so Stripe stops retrying (before: 422 for as long as it retried, then the endpoint disabled)
        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal("processed", response.Body.GetProperty("result").GetString());
        var message = response.Body.GetProperty("message").GetString()!;
        Assert.StartsWith("needs attention: the customer paid for plan 'team', which no longer exists", message, StringComparison.Ordinal);
        Assert.Equal("duplicate", replay.Body.GetProperty("result").GetString());
        Assert.True(await h.Gateway.Store.IsBillingEventProcessedAsync("evt_deleted_plan", CancellationToken.None));

        // The plan is not changed to one that does not exist; the paid subscription is the customer's, so no second checkout
        Assert.Equal("free", (await h.UserAsync(user)).PlanId);
        var customer = await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None);
        Assert.Equal("sub_di", customer!.SubscriptionId);
        Assert.Equal("active", customer.SubscriptionStatus);

        // The operator is told: subscription.unapplied (once, not on the replay) and a warning with its own event id
        var delivery = Assert.Single(await h.Gateway.Store.ListWebhookDeliveriesAsync(endpoint, 10, CancellationToken.None));
        Assert.Equal("subscription.unapplied", delivery.EventType);
        var data = await EventDataAsync(h.Gateway, delivery.EventId);
        Assert.Equal(user, data.GetProperty("user_id").GetString());
        Assert.Equal("di@example.com", data.GetProperty("email").GetString());
        Assert.Equal("team", data.GetProperty("plan_id").GetString());
        Assert.Equal("free", data.GetProperty("current_plan_id").GetString());
        Assert.Equal("stripe", data.GetProperty("provider").GetString());
        Assert.Equal("sub_di", data.GetProperty("subscription_id").GetString());
        Assert.True(DateTimeOffset.TryParse(data.GetProperty("at").GetString(), out _), data.GetProperty("at").GetString());
        var written = await log.UpToMarkerAsync(h.Gateway);
        var warning = Assert.Single(written.Split('\n'), l => l.Contains("\"EventId\":9102", StringComparison.Ordinal));
        Assert.Contains("evt_deleted_plan", warning, StringComparison.Ordinal);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task CheckoutThenDeleted_WebhookEndpointSubscribed_RecordsSubscriptionAndPlanEventsOnce(string engine)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var endpoint = await h.CreateWebhookEndpointAsync("subscription.started", "subscription.ended", "payment.failed", "plan.changed");
        var user = await h.CreateCustomerAsync("jo@example.com", "cus_jo");
        var checkout = StripeEvents.CheckoutCompleted("evt_j1", Now - 10, "cus_jo", "sub_j", user, "pro");

        // Act
        await h.PostWebhookAsync(checkout);
        await h.PostWebhookAsync(checkout); // replay: no second set of events
        await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_j2", Now - 5, "cus_jo"));
        await h.PostWebhookAsync(StripeEvents.Subscription("evt_j3", "customer.subscription.deleted", Now, "sub_j", "cus_jo", "canceled", Now - 10, "price_pro"));

        // Assert
        var deliveries = await h.Gateway.Store.ListWebhookDeliveriesAsync(endpoint, 50, CancellationToken.None);
        Assert.Equal(
            ["payment.failed", "plan.changed", "plan.changed", "subscription.ended", "subscription.started"],
            deliveries.Select(d => d.EventType).Order(StringComparer.Ordinal).ToArray());
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task SubscriptionThatNeverStarted_EndsWithoutSubscriptionEnded(string engine)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var endpoint = await h.CreateWebhookEndpointAsync("subscription.started", "subscription.ended", "plan.changed");
        await h.CreateCustomerAsync("in@example.com", "cus_in");
        await h.CreateCustomerAsync("late@example.com", "cus_late");

        // Act: a first payment that never came (incomplete, then incomplete_expired), and an end that arrives before any start
        var incomplete = await h.PostWebhookAsync(StripeEvents.Subscription("evt_i1", "customer.subscription.created", Now - 10, "sub_in", "cus_in", "incomplete", Now - 10, "price_pro"));
        var expired = await h.PostWebhookAsync(StripeEvents.Subscription("evt_i2", "customer.subscription.updated", Now, "sub_in", "cus_in", "incomplete_expired", Now - 10, "price_pro"));
        var early = await h.PostWebhookAsync(StripeEvents.Subscription("evt_e1", "customer.subscription.deleted", Now, "sub_late", "cus_late", "canceled", Now - 10, "price_pro"));

        // Assert: each applied (the users stay on the default plan), and no receiver hears of an end without a start
        Assert.Equal((HttpStatusCode.OK, "subscription incomplete: plan unchanged"), (incomplete.Status, incomplete.Body.GetProperty("message").GetString()));
        Assert.Equal((HttpStatusCode.OK, "subscription ended: plan free"), (expired.Status, expired.Body.GetProperty("message").GetString()));
        Assert.Equal((HttpStatusCode.OK, "subscription ended: plan free"), (early.Status, early.Body.GetProperty("message").GetString()));
        Assert.Empty(await h.Gateway.Store.ListWebhookDeliveriesAsync(endpoint, 50, CancellationToken.None));
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task CheckoutPaymentFailedDeleted_ReceiverSubscribed_BillingEventsCarryTheDocumentedData(string engine)
    {
        // Arrange: a receiver that verifies every signature, subscribed to the three billing events
        await using var h = await BillingHarness.StartAsync(engines, engine, paymentFailed: "none");
        await using var receiver = await Webhooks.WebhookReceiver.StartAsync();
        var created = await new WebhookService(h.Gateway.Store, TimeProvider.System).CreateAsync(
            new WebhookInput { Url = receiver.Url, Events = ["subscription.started", "payment.failed", "subscription.ended"] }, CancellationToken.None);
        receiver.Secret = created.Value!.Secret;
        var user = await h.CreateCustomerAsync("lu@example.com", "cus_lu");

        // Act
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_l1", Now - 10, "cus_lu", "sub_l", user, "pro"));
        await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_l2", Now - 5, "cus_lu", "sub_l"));
        await h.PostWebhookAsync(StripeEvents.Subscription("evt_l3", "customer.subscription.deleted", Now, "sub_l", "cus_lu", "canceled", Now - 10, "price_pro"));
        await receiver.WaitUntilAsync(list => list.Count == 3, "the three billing events");

        // Assert: the fields docs/webhooks.md lists for each, in that order
        var events = receiver.Accepted.ToList();
        Assert.Equal(["subscription.started", "payment.failed", "subscription.ended"], events.Select(w => w.Type));
        Assert.Equal(["user_id", "email", "plan_id", "provider", "subscription_id", "at"], events[0].Data.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["user_id", "email", "plan_id", "provider", "subscription_id", "at"], events[1].Data.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["user_id", "email", "plan_id", "provider", "subscription_id", "at", "previous_plan_id"], events[2].Data.EnumerateObject().Select(p => p.Name));
        Assert.All(events, w => Assert.Equal(user, w.Data.GetProperty("user_id").GetString()));
        Assert.All(events, w => Assert.Equal("lu@example.com", w.Data.GetProperty("email").GetString()));
        Assert.All(events, w => Assert.Equal("stripe", w.Data.GetProperty("provider").GetString()));
        Assert.All(events, w => Assert.Equal("sub_l", w.Data.GetProperty("subscription_id").GetString()));
        Assert.Equal(["pro", "pro", "free"], events.Select(w => w.Data.GetProperty("plan_id").GetString()));
        Assert.Equal("pro", events[2].Data.GetProperty("previous_plan_id").GetString());
        Assert.All(events, w => Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", w.Data.GetProperty("at").GetString()));
    }

    /// <summary>The <c>data</c> of a queued outgoing webhook event, as the receiver will get it.</summary>
    private static async Task<JsonElement> EventDataAsync(TestGateway gateway, string eventId)
    {
        await using System.Data.Common.DbConnection connection = gateway.Options.DatabaseDriver == GatewayStores.Postgres
            ? new Npgsql.NpgsqlConnection(gateway.Options.DatabaseDsn)
            : new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + gateway.Options.DatabaseDsn);
        var body = await Dapper.SqlMapper.QuerySingleAsync<string>(connection, "SELECT body FROM webhook_events WHERE id = @eventId", new { eventId });
        return JsonDocument.Parse(body).RootElement.GetProperty("data").Clone();
    }
}
