using System.Text.Json;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>Reading <c>apigate config show --json</c>.</summary>
internal static class ConfigShow
{
    /// <summary>One setting's value and where it came from (<c>flag</c>, <c>environment</c>, <c>file</c>, <c>stored</c>, <c>default</c>).</summary>
    public static (string Value, string Source) Setting(JsonElement settings, string key) =>
        (settings.GetProperty(key).GetProperty("value").GetString()!, settings.GetProperty(key).GetProperty("source").GetString()!);
}
