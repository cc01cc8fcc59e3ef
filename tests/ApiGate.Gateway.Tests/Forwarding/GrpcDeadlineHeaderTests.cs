using ApiGate.Gateway.Forwarding;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>The <c>grpc-timeout</c> a gRPC call is forwarded with, on its first attempt and on a retry.</summary>
public sealed class GrpcDeadlineHeaderTests
{
    private static readonly TimeSpan TenMinutes = TimeSpan.FromMinutes(10);

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("5s")] // not a unit: the gateway's own
    [InlineData("123456789S")] // nine digits: not a value
    public void Header_ClientSentNoneOrNotOne_WhatIsLeftOfTheGatewaysBound(string? asked)
    {
        Assert.Equal("599000m", new GrpcDeadline(TenMinutes, TimeSpan.FromSeconds(1), Retry: false).Header(asked));
    }

    [Fact]
    public void Header_FirstAttempt_ClientsShorterDeadlineSentUnchanged()
    {
        Assert.Null(new GrpcDeadline(TenMinutes, TimeSpan.FromMilliseconds(3), Retry: false).Header("30S"));
    }

    [Fact]
    public void Header_ClientsDeadlineLongerThanTheBound_TheBoundsRest()
    {
        Assert.Equal("598000m", new GrpcDeadline(TenMinutes, TimeSpan.FromSeconds(2), Retry: false).Header("1H"));
        Assert.Equal("598000m", new GrpcDeadline(TenMinutes, TimeSpan.FromSeconds(2), Retry: true).Header("1H"));
    }

    [Fact]
    public void Header_Retry_ClientsDeadlineLessTheTimeSpent()
    {
        Assert.Equal("27500m", new GrpcDeadline(TenMinutes, TimeSpan.FromMilliseconds(2500), Retry: true).Header("30S"));
    }

    [Fact]
    public void Header_Retry_ClientsDeadlinePassed_TheLeastValue()
    {
        Assert.Equal("1m", new GrpcDeadline(TenMinutes, TimeSpan.FromSeconds(4), Retry: true).Header("3000m"));
    }
}
