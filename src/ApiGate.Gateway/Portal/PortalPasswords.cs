using ApiGate.Core.Portal;
using Microsoft.AspNetCore.Identity;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// Password rules and hashing for portal accounts: ASP.NET Core Identity's <see cref="PasswordHasher{TUser}"/>
/// (PBKDF2 with HMAC-SHA512, a random salt per hash, 100,000 iterations, the format versioned so stronger settings
/// re-hash on the next login).
/// </summary>
internal static class PortalPasswords
{
    /// <summary>Shortest password accepted.</summary>
    public const int MinLength = 10;

    /// <summary>Longest password accepted (a huge field must not cost a huge hash).</summary>
    public const int MaxLength = 256;

    private static readonly PasswordHasher<PortalAccount> Hasher = new();

    // Verified against when no account matches, so an unknown email costs the same time as a wrong password.
    private static readonly string DummyHash = Hasher.HashPassword(null!, "not a password of anyone's");

    /// <summary>Null when <paramref name="password"/> is acceptable; else the message the page shows.</summary>
    public static string? Problem(string? password) => password switch
    {
        null or { Length: 0 } => "Enter a password.",
        { Length: < MinLength } => $"Password must be at least {MinLength} characters.",
        { Length: > MaxLength } => $"Password must be at most {MaxLength} characters.",
        _ => null,
    };

    public static string Hash(string password) => Hasher.HashPassword(null!, password);

    /// <summary>Checks the password; <paramref name="rehash"/> is true when the hash should be replaced by a stronger one.</summary>
    public static bool Verify(string hash, string password, out bool rehash)
    {
        var result = Hasher.VerifyHashedPassword(null!, hash, password);
        rehash = result == PasswordVerificationResult.SuccessRehashNeeded;
        return result != PasswordVerificationResult.Failed;
    }

    /// <summary>Spends the time a verification takes, for a login whose email has no account.</summary>
    public static void VerifyNothing(string password) => Hasher.VerifyHashedPassword(null!, DummyHash, password);
}
