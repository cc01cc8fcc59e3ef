using ApiGate.Core.Text;
using CsCheck;

namespace ApiGate.Core.Tests.Text;

public sealed class UrlUserInfoTests
{
    [Theory]
    [InlineData("http://10.0.0.1:8080/v2", "http://10.0.0.1:8080/v2")]
    [InlineData("http://user:s3cret@10.0.0.1:8080/v2", "http://***@10.0.0.1:8080/v2")]
    [InlineData("https://token@api.example.com", "https://***@api.example.com")]
    [InlineData("http://a@b:p@ss@host:81/x", "http://***@host:81/x")]
    [InlineData("http://u:p?x@host", "http://***@host")]
    [InlineData("http://host/path@with-at", "http://host/path@with-at")]
    [InlineData("user:pw@host:80", "***@host:80")]
    [InlineData("http://u:pw@127.0.0.1:1,weight=abc", "http://***@127.0.0.1:1,weight=abc")]
    [InlineData("http://u:pa/ss@host", "http://***@host")]
    [InlineData("http://u:p/w@host/x@y", "http://***@y")]
    [InlineData("u:pa/ss@host:80", "***@host:80")]
    [InlineData("not a url", "not a url")]
    [InlineData("", "")]
    public void Mask_Url_ReplacesOnlyTheUserInfo(string url, string expected) => Assert.Equal(expected, UrlUserInfo.Mask(url));

    [Theory]
    [InlineData("http://user:s3cret@10.0.0.1:8080/v2", "http://10.0.0.1:8080/v2")]
    [InlineData("http://host:81/x", "http://host:81/x")]
    [InlineData("http://@host", "http://host")]
    public void Remove_Url_DropsTheUserInfoAndItsAt(string url, string expected) => Assert.Equal(expected, UrlUserInfo.Remove(url));

    [Fact]
    public void Mask_AnyPasswordBeforeTheHost_NeverAppearsInTheResult()
    {
        // A password of any characters but '/' (which ends the authority), in any scheme or none.
        var password = Gen.String[Gen.Char.Where(c => c != '/'), 6, 40].Select(p => "Z9" + p + "Q7");
        Gen.Select(Gen.Int[0, 3].Select(i => new[] { "http://", "https://", "gopher://", "" }[i]), Gen.String[Gen.Char.AlphaNumeric, 0, 8], password)
            .Sample((scheme, user, pw) =>
            {
                var masked = UrlUserInfo.Mask($"{scheme}{user}:{pw}@127.0.0.1:1/path");
                return !masked.Contains(pw, StringComparison.Ordinal) && masked.EndsWith("@127.0.0.1:1/path", StringComparison.Ordinal);
            });
    }

    [Fact]
    public void Mask_APasswordWithASlashInTextNoParserTakes_NeverAppearsInTheResult()
    {
        // Unencoded, a '/' in a password makes the text no URL (its port is not a number), and such text is what an error
        // shows: the password is hidden all the same.
        var password = Gen.String[Gen.Char.Where(c => c != '@'), 2, 30].Select(p => "Z9/" + p + "Q7");
        Gen.Select(Gen.Int[0, 3].Select(i => new[] { "http://", "https://", "gopher://", "" }[i]), Gen.String[Gen.Char.AlphaNumeric, 0, 8], password)
            .Sample((scheme, user, pw) =>
            {
                var masked = UrlUserInfo.Mask($"{scheme}{user}:{pw}@127.0.0.1:1/path");
                return !masked.Contains(pw, StringComparison.Ordinal) && masked.EndsWith("@127.0.0.1:1/path", StringComparison.Ordinal);
            });
    }
}
