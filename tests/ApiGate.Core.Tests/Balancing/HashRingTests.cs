using System.Globalization;
using ApiGate.Core.Balancing;

namespace ApiGate.Core.Tests.Balancing;

public sealed class HashRingTests
{
    private static readonly string[] Three = ["http://10.0.0.1:80", "http://10.0.0.2:80", "http://10.0.0.3:80"];

    [Fact]
    public void Owner_SameKey_AlwaysSameTarget()
    {
        var ring = HashRing.Build(Three, [1, 1, 1]);
        var again = HashRing.Build(Three, [1, 1, 1]);

        for (var k = 0; k < 1000; k++)
        {
            var hash = StableHash.Of(("session-" + k).AsSpan());
            Assert.Equal(ring.Owner(hash), again.Owner(hash));
        }
    }

    [Fact]
    public void Owner_ManyKeys_SpreadRoughlyEvenly()
    {
        var ring = HashRing.Build(Three, [1, 1, 1]);

        var counts = new int[3];
        for (var k = 0; k < 30_000; k++)
        {
            counts[ring.Owner(StableHash.Of(("user-" + k).AsSpan()))]++;
        }

        Assert.All(counts, c => Assert.InRange(c, 8_000, 12_000));
    }

    [Fact]
    public void Owner_TargetAdded_OnlyAboutAQuarterOfKeysMoveAndAllToTheNewTarget()
    {
        var before = HashRing.Build(Three, [1, 1, 1]);
        var after = HashRing.Build([.. Three, "http://10.0.0.4:80"], [1, 1, 1, 1]);

        var moved = 0;
        const int keys = 20_000;
        for (var k = 0; k < keys; k++)
        {
            var hash = StableHash.Of(k.ToString(CultureInfo.InvariantCulture).AsSpan());
            var was = before.Owner(hash);
            var now = after.Owner(hash);
            if (was != now)
            {
                moved++;
                Assert.Equal(3, now); // a key only ever moves to the new target
            }
        }

        // Ideal is 1/4 of the keys.
        Assert.InRange(moved / (double)keys, 0.18, 0.32);
    }

    [Fact]
    public void Owner_HeavierTarget_GetsProportionallyMoreKeys()
    {
        var ring = HashRing.Build(Three, [1, 1, 2]);

        var counts = new int[3];
        for (var k = 0; k < 40_000; k++)
        {
            counts[ring.Owner(StableHash.Of(("k" + k).AsSpan()))]++;
        }

        Assert.InRange(counts[2] / 40_000.0, 0.42, 0.58);
    }

    [Fact]
    public void StableHash_KnownInput_IsTheSameInEveryProcess()
    {
        // Pinned: instances must agree on the ring, so the hash may never depend on the process.
        Assert.Equal(StableHash.Of("abc".AsSpan()), StableHash.Of("abc".AsSpan()));
        Assert.NotEqual(StableHash.Of("abc".AsSpan()), StableHash.Of("abd".AsSpan()));
        Assert.Equal(7907109724041313874UL, StableHash.Of("abc".AsSpan()));
    }
}
