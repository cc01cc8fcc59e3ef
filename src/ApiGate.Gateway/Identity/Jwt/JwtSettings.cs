using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Identity.Jwt;

/// <summary>Checks of the <c>APIGATE_JWT_*</c> settings at start, and the algorithm allow-list they name.</summary>
internal static class JwtSettings
{
    /// <summary>The asymmetric algorithms a JWKS can verify; symmetric (HS*) and <c>none</c> are never accepted.</summary>
    public static readonly IReadOnlyList<string> Supported = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];

    /// <summary>The configured allow-list, upper case.</summary>
    public static string[] Algorithms(GatewayOptions options) =>
        [.. options.JwtAlgorithms.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(a => a.ToUpperInvariant())];

    public static IEnumerable<(string Key, string Problem)> Validate(GatewayOptions o)
    {
        // Every setting is checked whether or not jwt.issuer is set: a bad value left for the day the issuer is set
        // would otherwise only be refused then.
        if (o.JwtIssuer.Length > 0)
        {
            // The issuer is named in log lines (event 2402) and stored with each linked subject: a password in it would
            // go wherever they go, and a token's iss never carries one.
            var shown = Core.Text.UrlUserInfo.Mask(o.JwtIssuer);
            if (!Uri.TryCreate(o.JwtIssuer, UriKind.Absolute, out var issuer) || issuer.Scheme is not ("https" or "http"))
            {
                yield return ("jwt.issuer", $"'{shown}' is not an http(s) URL");
            }
            else if (!ReferenceEquals(shown, o.JwtIssuer))
            {
                yield return ("jwt.issuer", $"'{shown}' has a user and password in it: the issuer is the URL tokens name in iss, and its discovery document is public; remove them");
            }

            if (o.JwtAudience.Length == 0)
            {
                yield return ("jwt.audience", "required with jwt.issuer: the audience tokens must be issued for");
            }
        }

        var algorithms = Algorithms(o);
        if (algorithms.Length == 0)
        {
            yield return ("jwt.algorithms", "name at least one algorithm");
        }

        foreach (var algorithm in algorithms)
        {
            if (!Supported.Contains(algorithm))
            {
                yield return ("jwt.algorithms", $"'{algorithm}' is not accepted (one of {string.Join(", ", Supported)}; HS* and none never are)");
                break;
            }
        }

        if (o.JwtUserClaim.Length == 0)
        {
            yield return ("jwt.user_claim", "must name a claim");
        }

        if (o.JwtUnknownUser is not ("create" or "refuse"))
        {
            yield return ("jwt.unknown_user", $"'{o.JwtUnknownUser}' is not one of create, refuse");
        }

        if (o.JwtClockSkew < TimeSpan.Zero || o.JwtClockSkew > TimeSpan.FromMinutes(10))
        {
            yield return ("jwt.clock_skew", "must be between 0 and 10m");
        }

        if (o.JwtRefreshInterval < TimeSpan.FromSeconds(1))
        {
            yield return ("jwt.refresh_interval", "must be at least 1s");
        }
    }
}
