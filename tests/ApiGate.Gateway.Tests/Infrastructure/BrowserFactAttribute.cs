namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A test that drives a real Chromium (<see cref="BrowserHost"/>). Skipped only when no Chromium is installed and the
/// run is not CI; under <c>CI=true</c> a missing browser fails the test instead (.ci/run installs Debian's chromium).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute() => Skip = SkipReason;

    /// <summary>Why a browser test is skipped: no Chromium installed outside CI; null when it runs.</summary>
    internal static string? SkipReason => !File.Exists(BrowserHost.ExecutablePath) && !BrowserHost.IsCi
        ? $"no Chromium at {BrowserHost.ExecutablePath} (install Debian's chromium or set {BrowserHost.ExecutableVariable})"
        : null;
}

/// <summary>A <see cref="BrowserFactAttribute"/> with data: skipped (outside CI) without Chromium, as a browser fact is.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class BrowserTheoryAttribute : TheoryAttribute
{
    public BrowserTheoryAttribute() => Skip = BrowserFactAttribute.SkipReason;
}
