namespace ApiGate.Core.Identity;

/// <summary>
/// An identity provider's subject linked to a user: a JWT from <see cref="Issuer"/> whose user claim
/// (<c>jwt.user_claim</c>, <c>sub</c> by default) is <see cref="Subject"/> acts as the user <see cref="UserId"/>.
/// </summary>
public sealed record UserIdentity
{
    /// <summary>The issuer URL, as the gateway's <c>jwt.issuer</c> setting spells it.</summary>
    public required string Issuer { get; init; }

    /// <summary>The claim's value, exactly (compared case-sensitively).</summary>
    public required string Subject { get; init; }

    public required string UserId { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>
    /// Whether two issuer URLs name one issuer for links: equal, or equal but for one trailing slash
    /// (<c>https://login.example.com</c> and <c>https://login.example.com/</c>), which is how issuers and operators
    /// spell one URL both ways; a link must not silently miss for it.
    /// </summary>
    public static bool SameIssuer(string a, string b) =>
        string.Equals(a, b, StringComparison.Ordinal) || string.Equals(a, OtherSpelling(b), StringComparison.Ordinal);

    /// <summary>The issuer with its trailing slash removed, or with one added when it has none.</summary>
    public static string OtherSpelling(string issuer) => issuer.EndsWith('/') ? issuer[..^1] : issuer + "/";
}
