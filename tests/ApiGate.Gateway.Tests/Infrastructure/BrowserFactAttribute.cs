namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A test that drives a real Chromium (<see cref="BrowserHost"/>). Skipped only when no Chromium is installed and the
/// run is not CI; under <c>CI=true</c> a missing browser fails the test instead (.ci/run installs Debian's chromium).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (!File.Exists(BrowserHost.ExecutablePath) && !BrowserHost.IsCi)
        {
            Skip = $"no Chromium at {BrowserHost.ExecutablePath} (install Debian's chromium or set {BrowserHost.ExecutableVariable})";
        }
    }
}
