using System.Text.Json.Nodes;
using ApiGate.Core.Transforms;

namespace ApiGate.Core.Tests.Transforms;

public sealed class TransformParsingTests
{
    [Theory]
    [InlineData("user@domain.com", "u***@d***.com")]
    [InlineData("a@b.co.uk", "a***@b***.uk")]
    [InlineData("secret", "s***t")]
    [InlineData("ab", "***")]
    [InlineData("", "***")]
    [InlineData("4111111111111111", "4***1")]
    public void Mask_Value_KeepsFirstAndLastOfEachPart(string value, string expected)
    {
        // Act
        var masked = Masking.Mask(value);

        // Assert
        Assert.Equal(expected, masked);
    }

    [Theory]
    [InlineData("\U0001F600secret\U0001F601", "\U0001F600***\U0001F601")]
    [InlineData("\U00020000\U00020001\U00020002", "\U00020000***\U00020002")]
    [InlineData("\U0001F600@\U0001F601x.com", "\U0001F600***@\U0001F601***.com")]
    [InlineData("a\U0001F600", "***")]
    public void Mask_ValueWithCharactersOutsideTheBmp_KeepsThemWhole(string value, string expected)
    {
        // Act
        var masked = Masking.Mask(value);

        // Assert: an emoji or a CJK extension character is two UTF-16 units; half of one is no character at all.
        Assert.Equal(expected, masked);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("""{"headers":{"add":{"X":1}}}""", null)]
    [InlineData("""{"headers":{"add":{"X":{"a":1}}}}""", "request_transform.headers.add.X must be a string")]
    [InlineData("""{"headers":{"append":{}}}""", "unknown operation 'append'")]
    [InlineData("""{"headers":{"remove":"Cookie"}}""", "remove must be an array")]
    [InlineData("""{"headers":{"add":{"Bad Name":"x"}}}""", "'Bad Name' is not a valid header name")]
    [InlineData("""{"headers":{"add":{"X":"a\r\nb"}}}""", "line breaks")]
    [InlineData("""{"body":{"json":{"remove":["a..b"]}}}""", "not a dotted path")]
    [InlineData("""{"conditions":[{"headers":{}}]}""", "conditions[0].when is required")]
    [InlineData("""{"conditions":[{"when":{"weekday":"mon"}}]}""", "unknown test 'weekday'")]
    [InlineData("""{"method_override":"P0ST"}""", "method_override must be an HTTP method")]
    [InlineData("""{"headerz":{}}""", "unknown key 'headerz'")]
    [InlineData("""{"headers":{"add":{"X":"${unterminated"}}}""", "unterminated")]
    public void RequestTransformParse_BadInput_NamesTheProblem(string json, string? expected)
    {
        // Act
        var error = Record.Exception(() => RequestTransform.Parse(json));

        // Assert
        if (expected is null)
        {
            Assert.Null(error);
        }
        else
        {
            Assert.IsType<FormatException>(error);
            Assert.Contains(expected, error.Message);
        }
    }

    [Theory]
    [InlineData("""{"body":{"rename":{"_id":"a.b"}}}""", "must be a new field name")]
    [InlineData("""{"body":{"mask":"email"}}""", "must be an array")]
    [InlineData("""{"body":{"json":{"remove":["x"]}}}""", null)]
    [InlineData("""{"footer":{}}""", "unknown key 'footer'")]
    public void ResponseTransformParse_BadInput_NamesTheProblem(string json, string? expected)
    {
        // Act
        var error = Record.Exception(() => ResponseTransform.Parse(json));

        // Assert
        if (expected is null)
        {
            Assert.Null(error);
        }
        else
        {
            Assert.Contains(expected, Assert.IsType<FormatException>(error).Message);
        }
    }

    [Fact]
    public void ApplyBody_ArrayInPath_ReachesEveryElement()
    {
        // Arrange
        var transform = ResponseTransform.Parse("""{"body":{"remove":["data.items.secret"],"rename":{"data.items.n":"name"},"mask":["data.owner"]}}""");
        var body = JsonNode.Parse("""{"data":{"owner":"someone","items":[{"n":"a","secret":1},{"n":"b","secret":2}]}}""")!;

        // Act
        transform.ApplyBody(body);

        // Assert
        Assert.Equal("""{"data":{"owner":"s***e","items":[{"name":"a"},{"name":"b"}]}}""", body.ToJsonString());
    }

    [Fact]
    public void ApplyBody_MaskedNameHoldingANumberBooleanArrayOrObject_NoValueUnderItPassesUnmasked()
    {
        // Arrange
        var transform = ResponseTransform.Parse("""{"body":{"mask":["card.number","card.verified","emails","profile","gone"]}}""");
        var body = JsonNode.Parse("""
            {"card":{"number":4111111111111111,"verified":true},"emails":["user@domain.com","x"],
             "profile":{"ssn":"123-45-6789","age":42,"tags":[1234,false]},"gone":null,"kept":7}
            """)!;

        // Act
        transform.ApplyBody(body);

        // Assert: a number is masked by its digits; a boolean, which its first letter would give away, becomes ***.
        Assert.Equal(
            """{"card":{"number":"4***1","verified":"***"},"emails":["u***@d***.com","***"],"profile":{"ssn":"1***9","age":"***","tags":["1***4","***"]},"gone":null,"kept":7}""",
            body.ToJsonString());
    }

    [Fact]
    public void ApplyBody_RemoveByTheNewNameMaskByTheOldName_OfARenamedField_BothStillApply()
    {
        // Arrange: remove runs before rename and mask after it; each names the field as the operator reads it.
        var transform = ResponseTransform.Parse("""{"body":{"rename":{"email":"contact","user.ssn":"id_number"},"mask":["email"],"remove":["user.id_number"]}}""");
        var body = JsonNode.Parse("""{"email":"user@domain.com","user":{"ssn":"123-45-6789","name":"n"}}""")!;

        // Act
        transform.ApplyBody(body);

        // Assert: neither the address nor the number reaches the client under its new name.
        Assert.Equal("""{"user":{"name":"n"},"contact":"u***@d***.com"}""", body.ToJsonString());
    }

    [Fact]
    public void Glob_ThousandsOfCharacters_CompilesAndMatches()
    {
        // Arrange: more than a linear regex engine builds an automaton for; tried by backtracking, the miss below would
        // run for longer than the age of the universe.
        var pattern = "/" + string.Concat(Enumerable.Repeat("a*", 1500));

        // Act
        var glob = TransformCondition.Glob(pattern);

        // Assert
        Assert.True(glob.IsMatch("/" + new string('a', 1500)));
        Assert.False(glob.IsMatch("/" + new string('a', 1499)));
    }

    [Fact]
    public void Glob_StarAndQuestionMark_AnchoredBothEnds()
    {
        // Arrange
        var glob = TransformCondition.Glob("/api/*/item?");

        // Act / Assert
        Assert.True(glob.IsMatch("/api/v1/items"));
        Assert.True(glob.IsMatch("/api/v1/deep/itemX"));
        Assert.False(glob.IsMatch("/api/v1/items/extra"));
        Assert.False(glob.IsMatch("/other/api/v1/items"));
    }

    [Theory]
    [InlineData("*", "", true)]
    [InlineData("*", "/anything/at/all", true)]
    [InlineData("/a*", "/a", true)]
    [InlineData("/a**b", "/ab", true)]
    [InlineData("/a*b", "/axxbxxb", true)]
    [InlineData("/a*b", "/axxbxxc", false)]
    [InlineData("/a?", "/a", false)]
    [InlineData("/*/x/*", "/v1/y/x/z", true)]
    [InlineData("/*.json", "/a/b.JSON", false)]
    [InlineData("/[a]", "/[a]", true)]
    [InlineData("/a.c", "/abc", false)]
    public void Glob_Path_MatchesAsAGlob(string pattern, string path, bool expected)
    {
        // Act
        var matched = TransformCondition.Glob(pattern).IsMatch(path);

        // Assert: '*' and '?' are the only special characters; case counts.
        Assert.Equal(expected, matched);
    }
}
