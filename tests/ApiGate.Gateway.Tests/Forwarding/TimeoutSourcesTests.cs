using ApiGate.Gateway.Forwarding;

namespace ApiGate.Gateway.Tests.Forwarding;

public sealed class TimeoutSourcesTests
{
    [Fact]
    public void Return_SourceThatDidNotFire_IsRentedAgainWithoutTheOldRegistrations()
    {
        var sources = new TimeoutSources();
        var first = sources.Rent(TimeSpan.FromMinutes(5));
        var oldCallbackRan = false;
        first.Token.Register(() => oldCallbackRan = true);
        sources.Return(first);

        var second = sources.Rent(TimeSpan.FromMinutes(5));
        second.Cancel();

        Assert.Same(first, second);
        Assert.False(oldCallbackRan); // the previous request's registration went with the reset
        Assert.True(second.IsCancellationRequested);
    }

    [Fact]
    public void Return_SourceThatFired_IsNotReused()
    {
        var sources = new TimeoutSources();
        var fired = sources.Rent(TimeSpan.FromMilliseconds(1));
        Assert.True(fired.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(10))); // bounded wait for the timer
        sources.Return(fired);

        var next = sources.Rent(TimeSpan.FromMinutes(5));

        Assert.NotSame(fired, next);
        Assert.False(next.IsCancellationRequested);
    }

    [Fact]
    public void Rent_AfterReset_CancelsAtTheNewTimeout()
    {
        var sources = new TimeoutSources();
        var first = sources.Rent(TimeSpan.FromMinutes(5));
        sources.Return(first);

        var again = sources.Rent(TimeSpan.FromMilliseconds(1));

        Assert.Same(first, again);
        Assert.True(again.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(10)));
    }
}
