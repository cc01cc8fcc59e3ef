using ApiGate.Core.Webhooks;

namespace ApiGate.Core.Tests.Webhooks;

public sealed class WebhookRetryScheduleTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 0, 0, 0, TimeSpan.Zero);
    // Drawing 0: every wait is its step exactly, so the schedule itself can be checked to the tick.
    private readonly WebhookRetrySchedule _schedule = new(TimeSpan.FromSeconds(5), TimeSpan.FromHours(24), new FixedDraw(0));

    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 10)]
    [InlineData(3, 20)]
    [InlineData(10, 2560)]
    [InlineData(11, 3600)]
    [InlineData(40, 3600)]
    public void DelayAfter_NthFailure_DoublesUpToOneHour(int failures, int seconds)
    {
        // Act
        var delay = _schedule.DelayAfter(failures);

        // Assert
        Assert.Equal(TimeSpan.FromSeconds(seconds), delay);
    }

    [Fact]
    public void NextAttempt_WithinMaxAge_IsNowPlusTheDelay()
    {
        // Act
        var next = _schedule.NextAttempt(3, Start, Start.AddMinutes(1));

        // Assert
        Assert.Equal(Start.AddMinutes(1).AddSeconds(20), next);
    }

    [Fact]
    public void NextAttempt_PastMaxAge_IsNullSoTheDeliveryFails()
    {
        // Act
        var lastInside = _schedule.NextAttempt(30, Start, Start.AddHours(23));
        var pastIt = _schedule.NextAttempt(31, Start, Start.AddHours(23).AddMinutes(1));

        // Assert
        Assert.Equal(Start.AddHours(24), lastInside);
        Assert.Null(pastIt);
    }

    [Theory]
    [InlineData(1, 1, 5)] // asks for less than the back-off: the back-off stands
    [InlineData(1, 90, 90)]
    [InlineData(3, 86400, 3600)] // asks for a day: at most an hour
    public void NextAttempt_EndpointAsksToRetryAfter_NoSoonerAndAtMostAnHourLater(int failures, int askedSeconds, int expectedSeconds)
    {
        // Act
        var next = _schedule.NextAttempt(failures, Start, Start.AddMinutes(1), TimeSpan.FromSeconds(askedSeconds));

        // Assert
        Assert.Equal(Start.AddMinutes(1).AddSeconds(expectedSeconds), next);
    }

    [Fact]
    public void NextAttempt_RetryAfterPastMaxAge_IsNullSoTheDeliveryFails()
    {
        // Act
        var next = _schedule.NextAttempt(1, Start, Start.AddHours(23).AddMinutes(30), TimeSpan.FromHours(1));

        // Assert
        Assert.Null(next);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(10)]
    public void NextAttempt_SeededDraws_WaitsSpreadFromTheStepToAFifthLonger(int failures)
    {
        // Arrange
        var schedule = new WebhookRetrySchedule(TimeSpan.FromSeconds(5), TimeSpan.FromHours(24), new Random(20261205));
        var step = schedule.DelayAfter(failures);

        // Act: a thousand deliveries failing at the same moment
        var waits = Enumerable.Range(0, 1000).Select(_ => schedule.NextAttempt(failures, Start, Start)!.Value - Start).ToList();

        // Assert: none sooner than the step nor later than a fifth more, and spread across that range rather than together
        Assert.All(waits, wait => Assert.InRange(wait, step, step * 1.2));
        Assert.True(waits.Distinct().Count() > 900, $"{waits.Distinct().Count()} distinct waits of 1000");
        Assert.True(waits.Min() < step * 1.02 && waits.Max() > step * 1.18, $"waits from {waits.Min()} to {waits.Max()}");
    }

    [Theory]
    [InlineData(0.0, 3600)]
    [InlineData(0.5, 3240)] // a tenth longer would pass the hour: a tenth shorter instead
    [InlineData(0.99999, 2880)]
    public void NextAttempt_AtTheOneHourCap_SpreadBelowTheHourNeverAbove(double draw, int expectedSeconds)
    {
        // Arrange
        var schedule = new WebhookRetrySchedule(TimeSpan.FromSeconds(5), TimeSpan.FromHours(24), new FixedDraw(draw));

        // Act
        var next = schedule.NextAttempt(20, Start, Start);

        // Assert
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds).TotalSeconds, (next!.Value - Start).TotalSeconds, 0);
    }

    [Fact]
    public void NextAttempt_EndpointAsksForLongerThanTheJitteredStep_WaitsExactlyWhatItAsks()
    {
        // Arrange: the largest draw, so the step is 6 s
        var schedule = new WebhookRetrySchedule(TimeSpan.FromSeconds(5), TimeSpan.FromHours(24), new FixedDraw(0.99999));

        // Act
        var asked = schedule.NextAttempt(1, Start, Start, TimeSpan.FromSeconds(30));
        var shorter = schedule.NextAttempt(1, Start, Start, TimeSpan.FromSeconds(1));

        // Assert
        Assert.Equal(Start.AddSeconds(30), asked);
        Assert.Equal(6, (shorter!.Value - Start).TotalSeconds, 0);
    }

    [Fact]
    public void Create_UnknownType_Throws()
    {
        // Act
        var error = Assert.Throws<ArgumentException>(() => WebhookEvent.Create("key.deleted", [], null, Start));

        // Assert
        Assert.Contains("'key.deleted' is not a webhook event type", error.Message);
    }

    [Fact]
    public void Create_KnownType_BodyIsTheEnvelopeAroundTheData()
    {
        // Act
        var created = WebhookEvent.Create(WebhookEventTypes.KeyCreated, new System.Text.Json.Nodes.JsonObject { ["key_id"] = "key_1" }, "usr_1", Start);

        // Assert
        Assert.StartsWith("msg_", created.Id);
        Assert.Equal("""{"type":"key.created","timestamp":"2026-11-30T00:00:00.000Z","data":{"key_id":"key_1"}}""", created.Body);
        Assert.Equal("usr_1", created.UserId);
    }

    /// <summary>A source of randomness that always draws <paramref name="value"/>.</summary>
    private sealed class FixedDraw(double value) : Random
    {
        public override double NextDouble() => value;
    }
}
