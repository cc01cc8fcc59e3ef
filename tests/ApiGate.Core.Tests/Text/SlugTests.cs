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
    [InlineData("Café API", "cafe-api")]
    [InlineData("Crème Brûlée", "creme-brulee")]
    [InlineData("Straße Ærø Łódź", "strasse-aero-lodz")]
    [InlineData("Cafe\u0301 API", "cafe-api")] // already decomposed: e + combining acute
    [InlineData("Überweisungen", "uberweisungen")]
    [InlineData("東京 API", "dongjing-api")]
    [InlineData("Заказы", "zakazy")]
    [InlineData("🚀 launch", "rocket-launch")]
    [InlineData("Zürich–Genève", "zurich-geneve")]
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
