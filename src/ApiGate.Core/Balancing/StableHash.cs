using System.Runtime.CompilerServices;

namespace ApiGate.Core.Balancing;

/// <summary>
/// A 64-bit hash that is the same in every process and run (unlike <see cref="string.GetHashCode()"/>), so a hash ring
/// built by two gateway instances sends a key to the same target: FNV-1a over the input, then a 64-bit finalizer
/// (MurmurHash3's fmix64) so that similar inputs spread over the whole ring.
/// </summary>
public static class StableHash
{
    private const ulong OffsetBasis = 14695981039346656037;
    private const ulong Prime = 1099511628211;

    public static ulong Of(ReadOnlySpan<char> text)
    {
        var hash = OffsetBasis;
        foreach (var c in text)
        {
            hash = (hash ^ (byte)c) * Prime;
            hash = (hash ^ (byte)(c >> 8)) * Prime;
        }

        return Mix(hash);
    }

    public static ulong Of(ReadOnlySpan<byte> data)
    {
        var hash = OffsetBasis;
        foreach (var b in data)
        {
            hash = (hash ^ b) * Prime;
        }

        return Mix(hash);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong k)
    {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccd;
        k ^= k >> 33;
        k *= 0xc4ceb9fe1a85ec53;
        k ^= k >> 33;
        return k;
    }
}
