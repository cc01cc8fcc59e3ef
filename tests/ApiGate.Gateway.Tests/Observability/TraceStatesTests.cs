using ApiGate.Gateway.Observability;

namespace ApiGate.Gateway.Tests.Observability;

public sealed class TraceStatesTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("vendor=abc,other=1")]
    public void Bounded_WithinTheBounds_ReturnsTheSameString(string? traceState)
    {
        // Act
        var bounded = TraceStates.Bounded(traceState);

        // Assert
        Assert.Same(traceState, bounded);
    }

    [Fact]
    public void Bounded_MoreThanThirtyTwoMembers_KeepsTheFirstThirtyTwo()
    {
        // Arrange
        var members = Enumerable.Range(0, 40).Select(i => $"v{i}=x").ToArray();

        // Act
        var bounded = TraceStates.Bounded(string.Join(',', members));

        // Assert
        Assert.Equal(string.Join(',', members[..32]), bounded);
    }

    [Fact]
    public void Bounded_LongerThan512_DropsMembersOver128First()
    {
        // Arrange: two short members around one of 200 characters and one of 300.
        var big = "big=" + new string('b', 196);
        var huge = "huge=" + new string('h', 295);
        var traceState = $"first=1,{big},second=2,{huge}";

        // Act
        var bounded = TraceStates.Bounded(traceState);

        // Assert
        Assert.Equal("first=1,second=2", bounded);
    }

    [Fact]
    public void Bounded_StillTooLongAfterThat_DropsMembersFromTheEnd()
    {
        // Arrange: ten members of 100 characters each (1,009 with the commas), none over 128.
        var members = Enumerable.Range(0, 10).Select(i => $"v{i}=" + new string('x', 97)).ToArray();

        // Act
        var bounded = TraceStates.Bounded(string.Join(',', members));

        // Assert: the first five, 504 characters.
        Assert.Equal(string.Join(',', members[..5]), bounded);
        Assert.True(bounded!.Length <= TraceStates.MaxLength, $"{bounded.Length} characters");
    }

    [Fact]
    public void Bounded_OneMemberOverTheWholeBound_ReturnsNull()
    {
        // Act
        var bounded = TraceStates.Bounded("v=" + new string('x', 30_000));

        // Assert
        Assert.Null(bounded);
    }

    [Fact]
    public void Bounded_EmptyMembersAndSpaces_Dropped()
    {
        // Arrange: over the bound only through its empty members.
        var traceState = "a=1, ,b=2" + new string(',', 40);

        // Act
        var bounded = TraceStates.Bounded(traceState);

        // Assert
        Assert.Equal("a=1,b=2", bounded);
    }
}
