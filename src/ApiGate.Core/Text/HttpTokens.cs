using System.Buffers;

namespace ApiGate.Core.Text;

/// <summary>The HTTP <c>token</c> grammar (RFC 9110 §5.6.2), used for header names and methods.</summary>
public static class HttpTokens
{
    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>True when <paramref name="value"/> is a non-empty HTTP token (a valid header name or method).</summary>
    public static bool IsToken(string? value) => value is not null && IsToken(value.AsSpan());

    /// <inheritdoc cref="IsToken(string?)"/>
    public static bool IsToken(ReadOnlySpan<char> value) => !value.IsEmpty && !value.ContainsAnyExcept(TokenChars);
}
