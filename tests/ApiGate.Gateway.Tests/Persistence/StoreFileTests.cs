using System.Buffers.Binary;
using ApiGate.Storage.Sqlite;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// How the store tells which file is at its path: <c>stat</c>, or on a C library older than glibc 2.33 (which does not
/// export it) <c>__xstat</c> — both asked here, since this machine's glibc has both, and they must agree.
/// </summary>
public sealed class StoreFileTests
{
    [GlibcFact]
    public void XStat_TheCallOlderGlibcHas_GivesTheSameDeviceAndInodeAsStat()
    {
        // Arrange
        var path = Path.GetTempFileName();
        try
        {
            var byStat = new byte[256];
            var byXStat = new byte[256];

            // Act
            var statResult = StoreFile.StatOf(path, byStat);
            var xstatResult = StoreFile.XStatOf(path, byXStat);

            // Assert: the identity both give is the file's (device and inode, the first two 64-bit fields), and not zero
            Assert.Equal((0, 0), (statResult, xstatResult));
            Assert.Equal(BinaryPrimitives.ReadUInt64LittleEndian(byStat.AsSpan(8)), BinaryPrimitives.ReadUInt64LittleEndian(byXStat.AsSpan(8)));
            Assert.Equal(BinaryPrimitives.ReadUInt64LittleEndian(byStat), BinaryPrimitives.ReadUInt64LittleEndian(byXStat));
            Assert.NotEqual(0UL, BinaryPrimitives.ReadUInt64LittleEndian(byStat.AsSpan(8)));
            Assert.Equal(StoreFile.Identify(path), new FileIdentity(BinaryPrimitives.ReadUInt64LittleEndian(byXStat), BinaryPrimitives.ReadUInt64LittleEndian(byXStat.AsSpan(8))));
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>A <c>[Fact]</c> about glibc on Linux: skipped with one line elsewhere (musl has no <c>__xstat</c>; other systems compare existence only).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class GlibcFactAttribute : FactAttribute
{
    public GlibcFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/lib/x86_64-linux-gnu/libc.so.6") && !File.Exists("/lib/aarch64-linux-gnu/libc.so.6"))
        {
            Skip = "needs glibc on Linux (x86-64 or aarch64)";
        }
    }
}
