using ApiGate.Core.Text;

namespace ApiGate.Core.Tests.Text;

public sealed class SlugTests
{
    [Theory]
    [InlineData("Users API", "users-api")]
    [InlineData("users-api", "users-api")]
    [InlineData("Orders  --  Service!!", "orders-service")]
    [InlineData("a,.;:b", "a-b")]
    [InlineData("  --Hello, World!!  ", "hello-world")]
    [InlineData("***admin***", "admin")]
    [InlineData("v2.0 Beta", "v2-0-beta")]
    [InlineData("C# & .NET", "c-net")]
    [InlineData("snake_case_name", "snake-case-name")]
    [InlineData("ALLCAPS", "allcaps")]
    [InlineData("123", "123")]
    [InlineData("Café API", "caf-api")]
    [InlineData("", "")]
    [InlineData("!!!", "")]
    [InlineData("   ", "")]
    public void From_Name_ReturnsLowerCaseDashSeparatedSlug(string name, string expected)
    {
        // Act
        var slug = Slug.From(name);

        // Assert
        Assert.Equal(expected, slug);
    }
}
