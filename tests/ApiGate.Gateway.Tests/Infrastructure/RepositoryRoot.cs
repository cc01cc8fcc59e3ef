namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>The checkout the tests run from (the directory holding ApiGate.slnx above the test binaries).</summary>
internal static class RepositoryRoot
{
    /// <summary>Its full path, or null when the tests run outside a checkout.</summary>
    public static string? Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ApiGate.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName;
    }
}
