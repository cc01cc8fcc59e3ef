using System.Text.RegularExpressions;
using ApiGate.Core.Identity;

namespace ApiGate.Core.Tests.Identity;

/// <summary>ApiKeys: key format, lookup prefix, hashing and comparison (SPEC §3.3).</summary>
public sealed partial class ApiKeysTests
{
    private const string Secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex LowerHex64();

    [Theory]
    [InlineData("ak_")]
    [InlineData("sk_live_")]
    [InlineData("")]
    public void Generate_Prefix_ReturnsPrefixPlus64LowerCaseHex(string prefix)
    {
        // Act
        var key = ApiKeys.Generate(prefix);

        // Assert
        Assert.StartsWith(prefix, key, StringComparison.Ordinal);
        Assert.Equal(prefix.Length + 64, key.Length);
        Assert.Matches(LowerHex64(), key[prefix.Length..]);
        Assert.True(ApiKeys.IsWellFormed(key, prefix));
    }

    [Theory]
    [InlineData("/nowhere/ak_" + Secret, "/nowhere/ak_012345678***")]
    [InlineData("/a/ak_" + Secret + "/b/ak_" + Secret, "/a/ak_012345678***/b/ak_012345678***")]
    [InlineData("ak_" + Secret, "ak_012345678***")]
    [InlineData("/blobs/" + Secret + "/raw", "/blobs/" + Secret + "/raw")]
    [InlineData("/x/ak_0123", "/x/ak_0123")]
    [InlineData("/x/ak_" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", "/x/ak_" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde")]
    public void RedactedPath_SegmentsThatAreKeysCut_OtherHexRunsKept(string path, string expected)
    {
        // Act
        var redacted = ApiKeys.RedactedPath(path, "ak_");

        // Assert
        Assert.Equal(expected, redacted);
    }

    [Theory]
    [InlineData("/x/ak_" + Secret + ".json", "/x/ak_012345678***.json")]
    [InlineData("/x-ak_" + Secret, "/x-ak_012345678***")]
    [InlineData("/x;ak_" + Secret + ";v=1", "/x;ak_012345678***;v=1")]
    [InlineData("/x/pak_" + Secret, "/x/pak_012345678***")]
    [InlineData("/x/ak_" + Secret + "ff", "/x/ak_012345678***ff")]
    [InlineData("/x/AK_" + Secret, "/x/AK_012345678***")]
    [InlineData("/x/ak_0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "/x/ak_012345678***")]
    [InlineData("/x/ak_" + Secret + "%2Fraw", "/x/ak_012345678***%2Fraw")]
    public void RedactedPath_KeyWithSomethingAttached_Cut(string path, string expected)
    {
        // Act
        var redacted = ApiKeys.RedactedPath(path, "ak_");

        // Assert
        Assert.Equal(expected, redacted);
    }

    [Theory]
    [InlineData("/ak%5F" + Secret, "/ak_012345678***")]
    [InlineData("/ak%5f" + Secret + "/raw", "/ak_012345678***/raw")]
    [InlineData("/%61k_" + Secret, "/ak_012345678***")]
    [InlineData("/%41%4B%5F" + Secret, "/AK_012345678***")]
    [InlineData("/ak_%30%31" + "23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "/ak_012345678***")]
    [InlineData("/ak_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde%66.json", "/ak_012345678***.json")]
    [InlineData("/a%20b/x-ak%5F" + Secret, "/a%20b/x-ak_012345678***")]
    [InlineData("/ak%5F0123", "/ak%5F0123")]
    [InlineData("/ak%5" + Secret, "/ak%5" + Secret)]
    [InlineData("/blobs%2F" + Secret, "/blobs%2F" + Secret)]
    public void RedactedPath_KeyWithCharactersPercentEncoded_CutAsDecoded(string path, string expected)
    {
        // Act
        var redacted = ApiKeys.RedactedPath(path, "ak_");

        // Assert
        Assert.Equal(expected, redacted);
    }

    [Theory]
    [InlineData("/nowhere/agt_" + Secret, "/nowhere/agt_01234567***")]
    [InlineData("/x/AGT_" + Secret + ".json", "/x/AGT_01234567***.json")]
    [InlineData("/agt%5F" + Secret, "/agt_01234567***")]
    [InlineData("/ak_" + Secret + "/agt_" + Secret, "/ak_012345678***/agt_01234567***")]
    [InlineData("/x/agt_0123", "/x/agt_0123")]
    public void RedactedPath_AdminTokenInThePath_CutLikeAKey(string path, string expected)
    {
        // Act
        var redacted = ApiKeys.RedactedPath(path, "ak_");

        // Assert
        Assert.Equal(expected, redacted);
    }

    [Theory]
    [InlineData("no key with id 'ak_" + Secret + "'", "no key with id 'ak_012345678***'")]
    [InlineData("no admin endpoint at GET /admin/agt_" + Secret + ".json", "no admin endpoint at GET /admin/agt_01234567***.json")]
    [InlineData("unknown user 'sk-live-" + Secret + "'", "unknown user 'sk-live-0123***'")]
    [InlineData("no webhook with id 'whsec_Bz+i/HR=' or 'WHSEC_x'", "no webhook with id 'whsec_***' or 'WHSEC_***'")]
    [InlineData("the route 'users' was changed: its ETag is now \"8de2f3c1a9b4d13\"", "the route 'users' was changed: its ETag is now \"8de2f3c1a9b4d13\"")]
    [InlineData("no key with id 'key_4e7d105da8e02be5'", "no key with id 'key_4e7d105da8e02be5'")]
    [InlineData("the store at /tmp/apigate-tests/9dc848b12699486bbeb2d9c0a1f3e5d7/apigate.db is read-only", "the store at /tmp/apigate-tests/9dc848b12699486bbeb2d9c0a1f3e5d7/apigate.db is read-only")]
    [InlineData("no store file at /var/lib/docker/volumes/" + Secret + "/_data/apigate.db", "no store file at /var/lib/docker/volumes/" + Secret + "/_data/apigate.db")]
    public void RedactedMessage_WordsShapedAsACredentialCutToTheirShownPrefix_OthersAndHexDirectoryNamesKept(string message, string expected)
    {
        // Act
        var redacted = ApiKeys.RedactedMessage(message);

        // Assert
        Assert.Equal(expected, redacted);
    }

    [Theory]
    [InlineData("/nowhere/key-" + Secret, "/nowhere/key-01234567***")]
    [InlineData("/nowhere/agt_" + Secret, "/nowhere/agt_01234567***")]
    [InlineData("/files/plain", "/files/plain")]
    public void RedactedPath_KeyPrefixWithoutAnUnderscore_KeysAndAdminTokensStillCut(string path, string expected)
    {
        // Act: a prefix that does not end in '_' (APIGATE_AUTH_KEY_PREFIX=key-), so a path without '_' may still hold a key
        var redacted = ApiKeys.RedactedPath(path, "key-");

        // Assert
        Assert.Equal(expected, redacted);
    }

    [Theory]
    [InlineData("/files/" + Secret)]
    [InlineData("/files/a%20b/" + Secret)]
    [InlineData("/files/ak_0123")]
    public void RedactedPath_NoKeyInThePath_ReturnsThePathItselfAllocatingNothing(string path)
    {
        // Arrange: a first call, so that what the runtime sets up once is not counted
        ApiKeys.RedactedPath(path, "ak_");

        // Act
        var before = GC.GetAllocatedBytesForCurrentThread();
        var redacted = ApiKeys.RedactedPath(path, "ak_");
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Assert
        Assert.Same(path, redacted);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Generate_CalledRepeatedly_ReturnsDifferentKeys()
    {
        // Act
        var keys = Enumerable.Range(0, 100).Select(_ => ApiKeys.Generate("ak_")).ToList();

        // Assert
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData("ak_", "ak_" + Secret)]
    [InlineData("sk_live_", "sk_live_" + Secret)]
    [InlineData("ak_", "ak_0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("ak_", "ak_ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")]
    public void IsWellFormed_PrefixPlus64LowerHex_ReturnsTrue(string prefix, string key)
    {
        // Act
        var ok = ApiKeys.IsWellFormed(key, prefix);

        // Assert
        Assert.True(ok);
    }

    public static TheoryData<string, string> MalformedKeys => new()
    {
        { "empty", "" },
        { "prefix only", "ak_" },
        { "wrong prefix", "xk_" + Secret },
        { "prefix in upper case", "AK_" + Secret },
        { "no prefix", Secret + "abc" },
        { "one character short", "ak_" + Secret[..^1] },
        { "one character long", "ak_" + Secret + "0" },
        { "upper-case hex", "ak_" + Secret.ToUpperInvariant() },
        { "one upper-case hex digit", "ak_" + Secret[..^1] + "F" },
        { "non-hex letter", "ak_" + Secret[..^1] + "g" },
        { "space inside", "ak_" + Secret[..10] + " " + Secret[11..] },
        { "trailing newline", "ak_" + Secret[..^1] + "\n" },
        { "non-ASCII digit", "ak_" + Secret[..^1] + "\u0661" },
        { "another prefix's key", "sk_live_" + Secret },
    };

    [Theory]
    [MemberData(nameof(MalformedKeys))]
    public void IsWellFormed_Malformed_ReturnsFalse(string scenario, string key)
    {
        // Act
        var ok = ApiKeys.IsWellFormed(key, "ak_");

        // Assert
        Assert.False(ok, scenario);
    }

    [Theory]
    [InlineData("ak_" + Secret, "ak_012345678")]
    [InlineData("sk_live_" + Secret, "sk_live_0123")]
    [InlineData("ak_0123", "ak_0123")]
    [InlineData("", "")]
    public void PrefixOf_Key_ReturnsFirst12Characters(string key, string expected)
    {
        // Act
        var prefix = ApiKeys.PrefixOf(key);

        // Assert
        Assert.Equal(expected, prefix);
        Assert.True(prefix.Length <= ApiKeys.PrefixLength);
    }

    [Theory]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    [InlineData("\u00e9", "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c")] // UTF-8 bytes C3 A9
    public void Hash_KnownInput_ReturnsSha256LowerCaseHex(string input, string expected)
    {
        // Act
        var hash = ApiKeys.Hash(input);

        // Assert
        Assert.Equal(expected, hash);
    }

    [Fact]
    public void Hash_GeneratedKey_IsStableAnd64LowerHex()
    {
        // Arrange
        var key = ApiKeys.Generate("ak_");

        // Act
        var first = ApiKeys.Hash(key);
        var second = ApiKeys.Hash(key);

        // Assert
        Assert.Equal(first, second);
        Assert.Matches(LowerHex64(), first);
        Assert.NotEqual(first, ApiKeys.Hash(ApiKeys.Generate("ak_")));
    }

    [Fact]
    public void HashesEqual_SameHash_ReturnsTrue()
    {
        // Arrange
        var a = ApiKeys.Hash("ak_" + Secret);
        var b = ApiKeys.Hash("ak_" + Secret);

        // Act
        var equal = ApiKeys.HashesEqual(a, b);

        // Assert
        Assert.True(equal);
    }

    [Theory]
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ae")]
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "ca7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")]
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015")]
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "")]
    public void HashesEqual_DifferentHashes_ReturnsFalse(string a, string b)
    {
        // Act
        var equal = ApiKeys.HashesEqual(a, b);

        // Assert
        Assert.False(equal);
        Assert.False(ApiKeys.HashesEqual(b, a));
    }

    [Fact]
    public void WebhookSecretPrefix_IsTheWebhookSignaturesOwn()
    {
        Assert.Equal(ApiGate.Core.Webhooks.WebhookSignature.SecretPrefix, ApiKeys.WebhookSecretPrefix);
    }
}
