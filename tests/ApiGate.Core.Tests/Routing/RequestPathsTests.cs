using System.Text;
using ApiGate.Core.Routing;
using CsCheck;

namespace ApiGate.Core.Tests.Routing;

/// <summary>docs/routing.md "Path safety": one decode, refuse what a second decoder could read differently, re-encode exactly.</summary>
public sealed class RequestPathsTests
{
    [Theory]
    [InlineData("/", "/")]
    [InlineData("/users/42", "/users/42")]
    [InlineData("/a/file.txt", "/a/file.txt")]
    [InlineData("/a/file%2etxt", "/a/file.txt")]
    [InlineData("/a/..b/c.", "/a/..b/c.")]
    [InlineData("/caf%C3%A9", "/café")]
    [InlineData("/a%20b", "/a b")]
    [InlineData("/50%25off", "/50%off")]
    [InlineData("/a//b", "/a//b")]
    [InlineData("/a:b@c!$&'()*+,;=", "/a:b@c!$&'()*+,;=")]
    public void TryDecode_SafePath_ReturnsDecodedPath(string raw, string expected)
    {
        // Act
        var problem = RequestPaths.TryDecode(raw, out var decoded);

        // Assert
        Assert.Null(problem);
        Assert.Equal(expected, decoded);
    }

    [Theory]
    [InlineData("/pub/../priv/x", "dot segment")]
    [InlineData("/pub/./x", "dot segment")]
    [InlineData("/pub/..", "dot segment")]
    [InlineData("/pub/%2e%2e/priv/x", "dot segment")]
    [InlineData("/pub/%2E%2E/priv/x", "dot segment")]
    [InlineData("/pub/.%2e/priv/x", "dot segment")]
    [InlineData("/pub/%2e./priv/x", "dot segment")]
    [InlineData("/pub/%2e/x", "dot segment")]
    [InlineData("/pub/%252e%252e/priv/x", "encoded more than once")]
    [InlineData("/pub/%252E%252E/priv/x", "encoded more than once")]
    [InlineData("/pub/%252e./priv/x", "encoded more than once")]
    [InlineData("/pub/.%252e/priv/x", "encoded more than once")]
    [InlineData("/pub/%25252e%25252e/x", "encoded more than once")]
    [InlineData("/pub/%c0%ae%c0%ae/priv/x", "not valid UTF-8")]
    [InlineData("/pub/%e0%80%ae/x", "not valid UTF-8")]
    [InlineData("/pub/%c3", "not valid UTF-8")]
    [InlineData("/pub%2f..%2fpriv", "encoded slash")]
    [InlineData("/pub/%2F", "encoded slash")]
    [InlineData("/pub/%252f", "encoded more than once")]
    [InlineData("/pub/%5c..%5cpriv", "backslash")]
    [InlineData("/pub/%5C", "backslash")]
    [InlineData("/pub/%255c", "encoded more than once")]
    [InlineData("/pub\\..\\priv", "backslash")]
    [InlineData("/pub/%00", "control character")]
    [InlineData("/pub/%1b[31m", "control character")]
    [InlineData("/pub/%7f", "control character")]
    [InlineData("/pub/%c2%85", "control character")]
    [InlineData("/pub/%zz", "malformed percent escape")]
    [InlineData("/pub/%2", "malformed percent escape")]
    [InlineData("/pub/x y", "white space")]
    [InlineData("/pub/caf\u00e9", "non-ASCII")]
    [InlineData("*", "must start with '/'")]
    [InlineData("", "must start with '/'")]
    public void TryDecode_AmbiguousPath_IsRefusedWithReason(string raw, string reason)
    {
        // Act
        var problem = RequestPaths.TryDecode(raw, out _);

        // Assert
        Assert.NotNull(problem);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/users/42", "/users/42")]
    [InlineData("/a b", "/a%20b")]
    [InlineData("/50%off", "/50%25off")]
    [InlineData("/%2e%2e", "/%252e%252e")]
    [InlineData("/café", "/caf%C3%A9")]
    [InlineData("/a?b#c", "/a%3Fb%23c")]
    [InlineData("/\U0001F600", "/%F0%9F%98%80")]
    public void Encode_DecodedPath_EscapesEverythingAPathCannotHoldLiterally(string path, string expected)
    {
        // Act
        var encoded = RequestPaths.Encode(path);

        // Assert
        Assert.Equal(expected, encoded);
    }

    private static readonly string[] Pieces =
    [
        "pub", "priv", "x", "a.b", ".", "..", "%2e", "%2E", "%252e", "%25", "%2f", "%2F", "%5c", "\\", "%00", "%c0%ae", "%41",
        "%20", "é", "%C3%A9", "%", "~", "%2525", "%e2%80%ae",
    ];

    private static readonly Gen<string> RawPaths =
        Gen.OneOf(Pieces).Array[0, 6].Select(parts => parts.Aggregate("", (path, part) => path + (part.Length % 2 == 0 ? "/" : "") + part))
            .Select(path => path.StartsWith('/') ? path : "/" + path);

    [Fact]
    public void TryDecode_AnyPath_AcceptedOnlyWhenEncodeAndOneDecodeRoundTripWithoutDotSegments()
    {
        RawPaths.Sample(raw =>
        {
            if (RequestPaths.TryDecode(raw, out var decoded) is not null)
            {
                return true;
            }

            // What an upstream sees after one decode is exactly the decoded path, and decoding again changes nothing.
            var wire = RequestPaths.Encode(decoded);
            var once = Uri.UnescapeDataString(wire);
            var segments = once.Split('/');
            return once == decoded
                   && Uri.UnescapeDataString(once) == once
                   && !segments.Contains(".") && !segments.Contains("..")
                   && !once.Contains('\\') && !once.Any(char.IsControl);
        }, iter: 20_000);
    }

    [Fact]
    public void Encode_AnyDecodedPath_IsUndoneByOneDecode()
    {
        Gen.Char.Array[0, 40].Select(chars => "/" + new string(chars)).Where(s => !HasLoneSurrogate(s)).Sample(
            path => Uri.UnescapeDataString(RequestPaths.Encode(path)) == path && Encoding.ASCII.GetByteCount(RequestPaths.Encode(path)) == RequestPaths.Encode(path).Length,
            iter: 5_000);
    }

    private static bool HasLoneSurrogate(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(s[i]))
            {
                return true;
            }
        }

        return false;
    }
}
