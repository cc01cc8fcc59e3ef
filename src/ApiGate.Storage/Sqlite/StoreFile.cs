using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace ApiGate.Storage.Sqlite;

/// <summary>
/// Which file is at a path, so a running gateway can tell that the database it has open is still the one at its
/// configured path: a deleted, moved or replaced file keeps serving through open handles while the path names
/// nothing, or another store (split brain). On Linux the identity is the device and inode numbers; elsewhere only
/// whether a file exists at the path. Also which of the store's files a read-only store cannot write.
/// </summary>
internal static partial class StoreFile
{
    /// <summary>The identity of the file at <paramref name="path"/>, or null when there is none.</summary>
    public static FileIdentity? Identify(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        if (OperatingSystem.IsLinux() && (RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64))
        {
            // struct stat on x86-64 and aarch64 Linux starts with st_dev and st_ino, both 64-bit (glibc and musl alike).
            var buffer = new byte[256];
            if (StatOf(path, buffer) == 0)
            {
                return new FileIdentity(BinaryPrimitives.ReadUInt64LittleEndian(buffer), BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(8)));
            }

            return File.Exists(path) ? FileIdentity.Unknown : null;
        }

        return FileIdentity.Unknown;
    }

    /// <summary>More symbolic links than this on the way to a file is a loop (Linux gives up after 40 as well).</summary>
    private const int MaxLinkHops = 40;

    /// <summary>
    /// The full path of <paramref name="path"/> with every symbolic link on it followed, a directory's as well as the
    /// file's: two paths that name one file through links give the same string. A hard link is a name of the file
    /// itself, not a link, so it still gives its own path; so does a path whose links loop.
    /// </summary>
    public static string ResolveLinks(string path) => Resolve(path).Path;

    /// <summary>Whether the symbolic links on <paramref name="path"/> loop (or go on past <see cref="MaxLinkHops"/>): it leads to no file.</summary>
    public static bool LinksLoop(string path) => Resolve(path).Loops;

    private static (string Path, bool Loops) Resolve(string path)
    {
        var resolved = Path.GetFullPath(path);
        for (var hop = 0; hop < MaxLinkHops; hop++)
        {
            var root = Path.GetPathRoot(resolved) ?? "";
            var parts = resolved[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
            var current = root;
            string? followed = null;
            for (var i = 0; i < parts.Length && followed is null; i++)
            {
                current = Path.Combine(current, parts[i]);
                FileSystemInfo entry = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
                try
                {
                    if (entry.LinkTarget is not null && entry.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                    {
                        followed = Path.Combine([target.FullName, .. parts[(i + 1)..]]);
                    }
                }
                catch (IOException)
                {
                    return (resolved, true); // a loop of links: nothing to open there
                }
            }

            if (followed is null)
            {
                return (resolved, false);
            }

            resolved = Path.GetFullPath(followed);
        }

        return (resolved, true);
    }

    /// <summary>
    /// Which of the store's files (the database and, when present, its <c>-wal</c> and <c>-shm</c>) and its directory
    /// this process's user may not write (<c>access(2)</c>, so a read-only mount or an immutable file counts too); empty
    /// where that cannot be asked (not Linux).
    /// </summary>
    public static IReadOnlyList<string> Unwritable(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return [];
        }

        var unwritable = new List<string>();
        foreach (var file in (string[])[path, path + "-wal", path + "-shm"])
        {
            if (File.Exists(file) && Access(file, WriteAccess) != 0)
            {
                unwritable.Add(file);
            }
        }

        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory) && Access(directory, WriteAccess) != 0)
        {
            unwritable.Add(directory + "/");
        }

        return unwritable;
    }

    private const int WriteAccess = 2; // W_OK

    /// <summary>False once the C library was found not to export <c>stat</c>: then <c>__xstat</c> is called.</summary>
    private static volatile bool s_hasStat = true;

    /// <summary>
    /// <c>stat(2)</c> into <paramref name="buffer"/>. glibc exports <c>stat</c> only since 2.33; before that (Debian 11,
    /// Ubuntu 20.04, RHEL 8) the function is <c>__xstat</c> with the structure's version first, and calling <c>stat</c>
    /// failed the store's start there. musl and newer glibc export <c>stat</c>.
    /// </summary>
    internal static int StatOf(string path, byte[] buffer)
    {
        if (s_hasStat)
        {
            try
            {
                return Stat(path, buffer);
            }
            catch (EntryPointNotFoundException)
            {
                s_hasStat = false;
            }
        }

        return XStatOf(path, buffer);
    }

    /// <summary><c>__xstat</c> with this architecture's structure version (<c>_STAT_VER</c>: 1 on x86-64, 0 on aarch64).</summary>
    internal static int XStatOf(string path, byte[] buffer) =>
        XStat(RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 1 : 0, path, buffer);

    [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
    private static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [Out] byte[] buffer);

    [DllImport("libc", EntryPoint = "__xstat", SetLastError = true)]
    private static extern int XStat(int version, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, [Out] byte[] buffer);

    [DllImport("libc", EntryPoint = "access", SetLastError = true)]
    private static extern int Access([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int mode);
}

/// <summary>A file's device and inode numbers (both 0 where they cannot be read: then only existence is compared).</summary>
internal readonly record struct FileIdentity(ulong Device, ulong Inode)
{
    public static readonly FileIdentity Unknown = new(0, 0);

    public bool IsKnown => Device != 0 || Inode != 0;
}
