using ApiGate.Gateway.Identity;

namespace ApiGate.Gateway.Tests.Auth;

/// <summary>The credential cache's version rules: forward only, and nothing looked up under an older version kept under a newer one.</summary>
public sealed class ConfigScopedCacheTests
{
    [Fact]
    public void Set_LookupBeganBeforeANewerVersionStarted_NotKept()
    {
        // Arrange: a lookup starts under version 1 (the key still active in the store)...
        var cache = new ConfigScopedCache<string, string>(100);
        Assert.False(cache.TryGet(1, "key", out _));

        // ...the key is revoked (version 2) and a request under it misses, before the first lookup finishes.
        Assert.False(cache.TryGet(2, "key", out _));
        cache.Set(1, "key", "active");

        // Assert: the answer read before the revocation is not served under version 2
        Assert.False(cache.TryGet(2, "key", out _));
        cache.Set(2, "key", "revoked");
        Assert.True(cache.TryGet(2, "key", out var value));
        Assert.Equal("revoked", value);
    }

    [Fact]
    public void TryGet_OlderSnapshot_ReadsWhatTheNewerOneCachedAndClearsNothing()
    {
        var cache = new ConfigScopedCache<string, string>(100);
        Assert.False(cache.TryGet(5, "key", out _));
        cache.Set(5, "key", "fresh");

        // A request still holding snapshot 4 (taken before the reload) gets the fresher answer...
        Assert.True(cache.TryGet(4, "key", out var old));
        Assert.Equal("fresh", old);

        // ...and neither it nor a lookup it makes moves the cache back: version 5's entry stays.
        cache.Set(4, "other", "stale");
        Assert.False(cache.TryGet(5, "other", out _));
        Assert.True(cache.TryGet(5, "key", out var current));
        Assert.Equal("fresh", current);
    }

    [Fact]
    public void TryGet_NewerVersion_DropsEverythingCachedBefore()
    {
        var cache = new ConfigScopedCache<string, string>(100);
        Assert.False(cache.TryGet(1, "key", out _));
        cache.Set(1, "key", "v1");

        Assert.False(cache.TryGet(2, "key", out _));
        Assert.False(cache.TryGet(1, "key", out _));
    }

    [Fact]
    public void Set_Full_StartsOverInsteadOfGrowing()
    {
        var cache = new ConfigScopedCache<int, int>(3);
        Assert.False(cache.TryGet(1, 0, out _));
        for (var i = 0; i < 4; i++)
        {
            cache.Set(1, i, i);
        }

        Assert.False(cache.TryGet(1, 0, out _));
        Assert.True(cache.TryGet(1, 3, out _));
    }
}
