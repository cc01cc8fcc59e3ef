using System.Diagnostics;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// The user a test runs <c>apigate</c> processes as when file permissions must bind, as they do for an operator's
/// service user. Root ignores file modes, so when the tests run as root (CI) the processes run as <c>nobody</c>
/// (uid 65534) through <c>setpriv</c>, in a directory handed to that user (<see cref="OwnAsync"/>); as anyone else they run
/// as the current user, whom the modes already bind. <see cref="Problem"/> says when that is not possible here (no
/// <c>setpriv</c>, or <c>nobody</c> cannot read the test output): the tests are skipped, except under <c>CI=true</c>,
/// where they fail with it.
/// </summary>
internal static class ServiceUser
{
    private const string NobodyId = "65534";

    /// <summary>Whether the tests run as root, so the processes are started as <c>nobody</c>.</summary>
    public static bool SwitchesUser { get; } = Environment.UserName == "root";

    /// <summary>The name of the user the processes run as.</summary>
    public static string Name => SwitchesUser ? "nobody" : Environment.UserName;

    /// <summary>
    /// Where <see cref="Name"/> runs <c>apigate.dll</c> from: the test output itself, or — when switching to
    /// <c>nobody</c> — a hard-linked copy of it under the temp directory, since the checkout may sit where <c>nobody</c>
    /// cannot reach (a clone under <c>/root</c>). Removed when the test run ends.
    /// </summary>
    public static string AppDirectory => AppCopy.Value;

    private static readonly Lazy<string> AppCopy = new(CopyApp);

    /// <summary>Null when the processes can run as <see cref="Name"/>; otherwise why not.</summary>
    public static string? Problem { get; } = FindProblem();

    /// <summary>The one line a skipped test shows; null under <c>CI=true</c>, where the tests run and fail on <see cref="Problem"/>.</summary>
    public static string? MissingReason =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) ? null : Problem;

    /// <summary>Fails the test with <see cref="Problem"/> when there is one (under CI the test is not skipped for it).</summary>
    public static void AssertAvailable() => Assert.True(Problem is null, Problem);

    /// <summary>A process of <paramref name="file"/> as <see cref="Name"/>; the caller adds the arguments.</summary>
    public static ProcessStartInfo StartInfo(string file)
    {
        var start = new ProcessStartInfo { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        // Only the settings the caller gives: the test host's own APIGATE_* variables (set by other tests) would be
        // warned about as unknown settings.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("APIGATE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        if (!SwitchesUser)
        {
            start.FileName = file;
            return start;
        }

        start.FileName = "setpriv";
        foreach (var argument in (string[])[$"--reuid={NobodyId}", $"--regid={NobodyId}", "--clear-groups", file])
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    /// <summary>Makes <see cref="Name"/> the owner of <paramref name="directory"/> and everything in it.</summary>
    public static async Task OwnAsync(string directory)
    {
        if (SwitchesUser)
        {
            await RunAsync(new ProcessStartInfo("chown") { ArgumentList = { "-R", $"{NobodyId}:{NobodyId}", directory } });
        }
    }

    /// <summary>Runs the <c>apigate</c> CLI of the test output as <see cref="Name"/> against the store at <paramref name="databasePath"/>.</summary>
    public static async Task<CliResult> RunCliAsync(string databasePath, params string[] args)
    {
        var start = StartInfo("dotnet");
        start.ArgumentList.Add(Path.Combine(AppDirectory, "apigate.dll"));
        foreach (var argument in args)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["APIGATE_DATABASE_DSN"] = databasePath;
        return await RunAsync(start);
    }

    /// <summary>Runs <paramref name="start"/> to its end (a minute at most, then killed) and returns its exit code and output.</summary>
    internal static async Task<CliResult> RunAsync(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return new CliResult(process.ExitCode, await output, await error);
    }

    private static string CopyApp()
    {
        if (!SwitchesUser)
        {
            return AppContext.BaseDirectory;
        }

        var copy = Path.Combine(Path.GetTempPath(), "apigate-service-user-app-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(copy);
        var source = Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory) + "/.";
        // Hard links cost no copying on the same file system; a plain copy otherwise.
        if (Copy("cp", "-al", source, copy) != 0 && Copy("cp", "-a", source, copy) != 0)
        {
            return AppContext.BaseDirectory; // FindProblem then says why nobody cannot run it
        }

        Copy("chmod", "-R", "a+rX", copy); // a checkout made under umask 077 would leave the files unreadable to nobody

        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(copy, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return copy;

        static int Copy(string command, params string[] arguments)
        {
            var start = new ProcessStartInfo(command) { RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode;
        }
    }

    private static string? FindProblem()
    {
        if (!SwitchesUser)
        {
            return null;
        }

        try
        {
            var start = StartInfo("test");
            start.ArgumentList.Add("-r");
            start.ArgumentList.Add(Path.Combine(AppDirectory, "apigate.dll"));
            using var process = Process.Start(start)!;
            if (!process.WaitForExit(10_000))
            {
                process.Kill();
            }

            return process.HasExited && process.ExitCode == 0
                ? null
                : $"nobody (uid {NobodyId}) cannot read {AppDirectory}, so apigate cannot run as a user whom file modes bind (root ignores them)";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "no setpriv (util-linux) to run apigate as nobody, whom file modes bind (root ignores them)";
        }
    }
}

/// <summary>A <c>[Fact]</c> that runs <c>apigate</c> as <see cref="ServiceUser"/>: skipped with one line when it cannot (not under CI).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class ServiceUserFactAttribute : FactAttribute
{
    public ServiceUserFactAttribute()
    {
        Skip = ServiceUser.MissingReason;
    }
}
