namespace ApiGate.Core.Text;

/// <summary>
/// A leading <c>~/</c> (or a lone <c>~</c>) in a file path made the home directory (<c>$HOME</c>), as a shell does for a
/// path it is given unquoted: a path from the config file, a variable or a quoted flag otherwise named a directory
/// called <c>~</c> in the working directory. <c>~user/…</c> and a <c>~</c> further on are left as they are; so is the
/// path when the home directory is not known (HOME unset with no account entry, or not an absolute path).
/// </summary>
public static class HomePath
{
    /// <summary><paramref name="path"/> with its leading <c>~</c> made the home directory, when it has one and that is known.</summary>
    public static string Expand(string path)
    {
        if (!StartsAtHome(path) || Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is not { Length: > 0 } home)
        {
            return path;
        }

        return path.Length == 1 ? home : Path.Join(home, path.AsSpan(2));
    }

    /// <summary>Whether <paramref name="path"/> starts at the home directory: <c>~</c> alone or followed by a separator.</summary>
    public static bool StartsAtHome(string path) =>
        path.StartsWith('~') && (path.Length == 1 || path[1] == Path.DirectorySeparatorChar || path[1] == Path.AltDirectorySeparatorChar);
}
