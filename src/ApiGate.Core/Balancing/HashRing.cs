using System.Globalization;

namespace ApiGate.Core.Balancing;

/// <summary>
/// A consistent-hash ring: each target owns points ("virtual nodes") placed by hashing its URL and a point number,
/// in proportion to its weight; a key belongs to the first point at or after its hash. Adding a target only takes
/// over the keys that now fall on its own points (about 1/n of them); removing one hands its keys to the neighbours.
/// Immutable; built once per config snapshot.
/// </summary>
public sealed class HashRing
{
    /// <summary>Points per unit of weight when the ring is small.</summary>
    public const int PointsPerWeight = 160;

    /// <summary>Upper bound on the ring's size; larger total weights get fewer points per unit.</summary>
    public const int MaxPoints = 40_000;

    private readonly ulong[] _hashes;
    private readonly int[] _owners;

    private HashRing(ulong[] hashes, int[] owners)
    {
        _hashes = hashes;
        _owners = owners;
    }

    /// <summary>Number of points on the ring.</summary>
    public int Count => _hashes.Length;

    /// <summary>Builds the ring for targets identified by <paramref name="keys"/> (their URLs) with the given weights.</summary>
    public static HashRing Build(IReadOnlyList<string> keys, IReadOnlyList<int> weights)
    {
        if (keys.Count != weights.Count || keys.Count == 0)
        {
            throw new ArgumentException("a hash ring needs one weight per key and at least one key");
        }

        long totalWeight = 0;
        foreach (var weight in weights)
        {
            totalWeight += Math.Max(1, weight);
        }

        // The number of points per weight unit depends only on the total weight while it is small, so adding a
        // target to a small ring leaves every existing point where it was.
        var perWeight = (int)Math.Clamp(MaxPoints / totalWeight, 1, PointsPerWeight);
        var points = new List<(ulong Hash, int Owner)>((int)Math.Min(totalWeight * perWeight, MaxPoints + keys.Count));
        for (var i = 0; i < keys.Count; i++)
        {
            var count = Math.Max(1, weights[i]) * perWeight;
            for (var p = 0; p < count; p++)
            {
                points.Add((StableHash.Of(string.Concat(keys[i], "#", p.ToString(CultureInfo.InvariantCulture))), i));
            }
        }

        // Ties (practically impossible) are broken by owner so the order does not depend on input order.
        points.Sort((a, b) => a.Hash != b.Hash ? a.Hash.CompareTo(b.Hash) : a.Owner.CompareTo(b.Owner));
        return new HashRing([.. points.Select(p => p.Hash)], [.. points.Select(p => p.Owner)]);
    }

    /// <summary>The index of the first point at or after <paramref name="hash"/> (wrapping).</summary>
    public int FirstPoint(ulong hash)
    {
        var index = Array.BinarySearch(_hashes, hash);
        if (index < 0)
        {
            index = ~index;
        }

        return index == _hashes.Length ? 0 : index;
    }

    /// <summary>The target owning the point at <paramref name="point"/> (taken modulo <see cref="Count"/>).</summary>
    public int OwnerAt(int point) => _owners[point % _owners.Length];

    /// <summary>The target a key hashing to <paramref name="hash"/> goes to when every target is available.</summary>
    public int Owner(ulong hash) => _owners[FirstPoint(hash)];
}
