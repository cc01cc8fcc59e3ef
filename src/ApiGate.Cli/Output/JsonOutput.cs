using System.Text.Json;
using ApiGate.Core.Management;

namespace ApiGate.Cli.Output;

/// <summary>Machine output (<c>--json</c>): the wire JSON shared with the admin API (<see cref="WireJson"/>), indented.</summary>
internal static class JsonOutput
{
    public static void Write<T>(TextWriter output, T value) => output.WriteLine(JsonSerializer.Serialize(value, WireJson.Indented));
}
