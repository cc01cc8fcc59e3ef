using ApiGate.Core.Management;
using ApiGate.Core.Upstreams;

namespace ApiGate.Core.Tests.Management;

/// <summary>A list entry's field: its own name for the admin API's pointer, the entry named in text, the list for the CLI and the console.</summary>
public sealed class ListEntryFieldTests
{
    [Fact]
    public void Validate_SecondTargetUrlWithADotSegment_FieldIsTheEntrysUrlAndMessageNamesIt()
    {
        // Arrange
        var upstream = new UpstreamDefinition
        {
            Id = "up_1", Name = "p", Slug = "p", BaseUrl = "http://127.0.0.1:1",
            Targets = [new UpstreamTarget("http://127.0.0.1:1"), new UpstreamTarget("http://127.0.0.1:2/v2/../x")],
        };

        // Act
        var error = Assert.Single(UpstreamBalancing.Validate(upstream));

        // Assert
        Assert.Equal(("targets.1.url", "targets[1].url: its path holds the dot segment '..' ('%2e' counts as '.'), so requests would not go to the path as written: "
            + "write the path without '.' or '..' segments"), (error.Field, error.Message));
        Assert.Equal(error.Message, error.ToString());
        Assert.Equal("targets", ListEntryField.ListOf(error.Field));
    }

    [Theory]
    [InlineData("targets.12.url", "targets")]
    [InlineData("targets", "targets")]
    [InlineData("health_check.path", "health_check.path")]
    [InlineData("a.b.c", "a.b.c")]
    public void ListOf_Field_IsTheListForAnEntrysFieldElseTheField(string field, string expected) =>
        Assert.Equal(expected, ListEntryField.ListOf(field));

    [Fact]
    public void ToString_ErrorOfAnotherField_FieldThenMessage() =>
        Assert.Equal("health_check.path: is longer than 2048 bytes", new ManagementError(ManagementErrorKind.Validation, "health_check.path", "is longer than 2048 bytes").ToString());
}
