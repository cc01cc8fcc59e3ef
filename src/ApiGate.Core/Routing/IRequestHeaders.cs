namespace ApiGate.Core.Routing;

/// <summary>Read access to request headers for header conditions, without tying the matcher to ASP.NET types.</summary>
public interface IRequestHeaders
{
    /// <summary>True when the header is present with a value equal (ordinal) to <paramref name="value"/>.</summary>
    bool HasValue(string name, string value);
}
