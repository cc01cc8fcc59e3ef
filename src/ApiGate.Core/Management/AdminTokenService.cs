using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>Creates, lists and revokes admin tokens. The token is returned once, by <see cref="CreateAsync"/>; only its hash is stored.</summary>
public sealed class AdminTokenService(IAdminTokenStore store, TimeProvider timeProvider)
{
    /// <summary>Longest accepted token name.</summary>
    public const int MaxNameLength = 100;

    public Task<IReadOnlyList<AdminTokenDefinition>> ListAsync(CancellationToken ct) => store.ListAdminTokensAsync(ct);

    public async Task<ManagementResult<CreatedAdminToken>> CreateAsync(string? name, CancellationToken ct)
    {
        if ((TextFields.Check("name", name) ?? TextFields.CheckInvisible("name", name)) is { } nameProblem)
        {
            return nameProblem;
        }

        var trimmed = name?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            return Invalid("name", "name is required");
        }

        if (trimmed.Length > MaxNameLength || trimmed.Any(char.IsControl))
        {
            return Invalid("name", $"name must be at most {MaxNameLength} printable characters");
        }

        if (Ids.HasFormOf("adm", trimmed))
        {
            return Invalid("name", $"'{trimmed}' has the form of an admin token id (adm_ and 16 hex digits), and a token is revoked by id or name: choose another name");
        }

        var token = AdminTokens.Generate();
        var record = new AdminTokenDefinition
        {
            Id = Ids.New("adm"),
            Name = trimmed,
            Prefix = AdminTokens.PrefixOf(token),
            Hash = AdminTokens.Hash(token),
            CreatedAt = timeProvider.GetUtcNow(),
        };
        var written = await WriteAsync(record, store.CreateAdminTokenAsync, ct);
        return written.Error ?? new ManagementResult<CreatedAdminToken>(new CreatedAdminToken(record, token), null);
    }

    /// <summary>
    /// Revokes by id or name. Revoking a revoked token changes nothing and succeeds, keeping its first revocation time;
    /// the result says which it was, so the caller can tell the operator.
    /// </summary>
    public async Task<ManagementResult<RevokedAdminToken>> RevokeAsync(string idOrName, CancellationToken ct)
    {
        var existing = await store.FindAdminTokenAsync(idOrName, ct);
        if (existing is null)
        {
            return NotFound("admin token", idOrName);
        }

        if (existing.RevokedAt is not null)
        {
            return new RevokedAdminToken(existing, AlreadyRevoked: true);
        }

        await store.RevokeAdminTokenAsync(existing.Id, timeProvider.GetUtcNow(), ct);
        return new RevokedAdminToken((await store.FindAdminTokenAsync(existing.Id, ct))!, AlreadyRevoked: false);
    }
}

/// <summary>A created admin token: the stored record and the token itself, which is shown once and never again.</summary>
public sealed record CreatedAdminToken(AdminTokenDefinition Record, string Token);

/// <summary>An admin token after a revocation: the stored record, and whether it had been revoked before (at <c>RevokedAt</c>, kept).</summary>
public sealed record RevokedAdminToken(AdminTokenDefinition Token, bool AlreadyRevoked);
