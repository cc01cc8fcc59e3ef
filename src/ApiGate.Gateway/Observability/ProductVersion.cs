using System.Reflection;

namespace ApiGate.Gateway.Observability;

/// <summary>The gateway's version (the assembly's informational version without build metadata), as /version, spans and the CLI report it.</summary>
internal static class ProductVersion
{
    public static readonly string Value =
        typeof(ProductVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
