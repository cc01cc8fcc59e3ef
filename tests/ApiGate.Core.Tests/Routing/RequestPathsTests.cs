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
    [InlineData("/a/x;v=1/b", "/a/x;v=1/b")]
    [InlineData("/a/..x;/b", "/a/..x;/b")]
    [InlineData("/a/%25uzzzz", "/a/%uzzzz")]
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
    [InlineData("/pub/..;/priv/x", "dot segment")]
    [InlineData("/pub/..;jsessionid=1/priv/x", "dot segment")]
    [InlineData("/pub/.;x/priv", "dot segment")]
    [InlineData("/pub/%2e%2e;/priv/x", "dot segment")]
    [InlineData("/pub/%2e%2e%3b/priv/x", "dot segment")]
    [InlineData("/pub/%25u002e%25u002e/priv/x", "encoded more than once")]
    [InlineData("/pub/%25U002E/x", "encoded more than once")]
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

    [Theory]
    [InlineData("/a%3Bb/c%2Bd", "/a%3Bb/c%2Bd")]
    [InlineData("/a%7euser", "/a%7euser")]
    [InlineData("/a;b+c", "/a;b+c")]
    [InlineData("/50%off", "/50%25off")]
    [InlineData("/caf\u00e9 x", "/caf%C3%A9%20x")]
    [InlineData("/x?y#z", "/x?y#z")]
    public void EncodeKeepingEscapes_WrittenPath_KeepsItsEscapesAndEscapesOnlyWhatItMust(string path, string expected)
    {
        // Act
        var encoded = RequestPaths.EncodeKeepingEscapes(path);

        // Assert
        Assert.Equal(expected, encoded);
    }

    [Fact]
    public void RawRange_AnySuffixOfADecodedPath_IsSpelledInTheRawPathAsItDecodes()
    {
        RawPaths.Sample(raw =>
        {
            if (RequestPaths.TryDecode(raw, out var decoded) is not null)
            {
                return true;
            }

            // Every range that starts and ends on a whole raw character decodes to the same text; others are null.
            for (var start = 0; start <= decoded.Length; start++)
            {
                if (RequestPaths.RawRange(raw, start, decoded.Length - start) is { } range
                    && Uri.UnescapeDataString(raw[range]) != decoded[start..])
                {
                    return false;
                }
            }

            return RequestPaths.RawRange(raw, 0, decoded.Length) is { } whole && raw[whole] == raw;
        }, iter: 5_000);
    }

    [Theory]
    [InlineData("/users/42", "/users/42")]
    [InlineData("/caf\u00e9", "/caf\u00e9")]
    [InlineData("/a\u202Efdp.exe", "/a%E2%80%AEfdp.exe")]
    [InlineData("/b\u200Bc\uFEFF", "/b%E2%80%8Bc%EF%BB%BF")]
    [InlineData("/x\u2028y", "/x%E2%80%A8y")]
    [InlineData("/x\U000E0041\U0001F600", "/x%F3%A0%81%81\U0001F600")]
    public void Visible_PathWithInvisibleOrReorderingCharacters_ShowsThemAsEscapes(string path, string expected)
    {
        // Act
        var shown = RequestPaths.Visible(path);

        // Assert
        Assert.Equal(expected, shown);
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
