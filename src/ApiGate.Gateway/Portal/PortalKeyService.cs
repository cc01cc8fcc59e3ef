using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// A customer's own API keys, through the same <see cref="KeyService"/> as the CLI and the admin API: a name is
/// required, at most <see cref="MaxActiveKeys"/> unrevoked keys and <see cref="MaxCreatedPerHour"/> new ones an hour,
/// and only the customer's own keys can be revoked.
/// </summary>
internal sealed class PortalKeyService(IGatewayStore store, Configuration.GatewayOptions options, Identity.AttemptCounter counter, TimeProvider timeProvider)
{
    /// <summary>Unrevoked keys a customer may hold.</summary>
    public const int MaxActiveKeys = 20;

    /// <summary>
    /// Keys a customer may create in <see cref="CreationWindow"/>, revoked ones included: revoked keys stay stored and each
    /// key sends <c>key.created</c> and <c>key.revoked</c> to the operator's webhooks, so without it a script creating and
    /// revoking in a loop grew the store without bound and held up every other event to those endpoints (sent in order).
    /// </summary>
    public const int MaxCreatedPerHour = 50;

    /// <summary>The window of <see cref="MaxCreatedPerHour"/>.</summary>
    public static readonly TimeSpan CreationWindow = TimeSpan.FromHours(1);

    /// <summary>What the hourly count of creations is stored under (<see cref="Identity.AttemptCounter"/>), per user.</summary>
    internal const string CreationPurpose = "portal-key-create";

    /// <summary>What a create form's once-value is stored under, per user and value: a second post of it is refused.</summary>
    internal const string FormPurpose = "portal-key-form";

    /// <summary>Longest key name accepted.</summary>
    public const int MaxNameLength = 100;

    private readonly KeyService _keys = new(store, timeProvider, options.AuthKeyPrefix);

    /// <summary>The customer's keys, newest first.</summary>
    public Task<IReadOnlyList<ApiKeyDefinition>> ListAsync(UserDefinition user, CancellationToken ct) => _keys.ListAsync(user.Id, ct);

    /// <summary>
    /// Creates a key; the full key is in the result, to be shown once. <paramref name="once"/> is the value the form was
    /// shown with (null: none): a second post of it — the page showing the new key reloaded, which sends its post again,
    /// or the button pressed twice — is refused, instead of making a second key the customer never sees.
    /// </summary>
    public async Task<(PortalResult Result, CreatedKey? Key)> CreateAsync(UserDefinition user, string? name, string? once, CancellationToken ct)
    {
        name = name?.Trim() ?? "";
        if (name.Length == 0)
        {
            return (PortalResult.Refused("Give the key a name (say, where it will be used)."), null);
        }

        if (name.Length > MaxNameLength)
        {
            return (PortalResult.Refused($"The name must be at most {MaxNameLength} characters."), null);
        }

        // The rules KeyService applies, checked before anything is counted: a name it would refuse makes no key, so it
        // must not use up one of the hour's creations (nor store a count) either.
        if ((TextFields.Check("name", name) ?? TextFields.CheckInvisible("name", name)) is { } nameProblem)
        {
            return (PortalResult.Refused($"The name {nameProblem.Message}."), null);
        }

        // Counted in the store before the key is made (every instance together), like the login and sign-up limits. First:
        // past the limit nothing else is stored, so a script posting forms with a new once-value each cannot add a
        // stored count per post.
        if (await counter.TakeAsync(CreationPurpose, user.Id, MaxCreatedPerHour, CreationWindow, ct) is { } wait)
        {
            return (PortalResult.TooMany("keys created", wait), null);
        }

        // Counted in the store (every instance together) for as long as the hourly count above; a form sent again makes
        // no key, so it gives back the creation it took.
        if (once is { Length: > 0 and <= 64 } && await counter.TakeAsync(FormPurpose, user.Id + ":" + once, 1, CreationWindow, ct) is not null)
        {
            await counter.RefundAsync(CreationPurpose, user.Id, ct);
            return (PortalResult.Refused("This form was sent already (the page was reloaded, or the button pressed twice), so no key was created now: your keys are listed below."), null);
        }

        // The limit is counted by the store inside the insert's transaction, so requests sent at once cannot pass it together.
        var created = await _keys.CreateAsync(new KeyChanges { User = user.Id, Name = name, MaxActiveKeys = MaxActiveKeys }, ct);
        return created.Ok
            ? (PortalResult.Success($"Key '{name}' created. Copy it now: it is not shown again."), created.Value)
            : created.Error is { Kind: ManagementErrorKind.Conflict, Field: "keys" }
            ? (PortalResult.Refused($"You have {MaxActiveKeys} keys already: revoke one you no longer use first."), null)
            : (PortalResult.Refused(created.Error is { Field: "name" } named ? $"The name {named.Message}." : created.Error!.Message), null);
    }

    /// <summary>Revokes one of the customer's keys (another user's key is "not found", as if it did not exist).</summary>
    public async Task<PortalResult> RevokeAsync(UserDefinition user, string? keyId, CancellationToken ct)
    {
        var key = string.IsNullOrEmpty(keyId) || keyId.Length > 100 ? null : await store.FindKeyAsync(keyId, ct);
        if (key is null || key.UserId != user.Id)
        {
            return PortalResult.Refused("No such key.");
        }

        if (key.RevokedAt is not null)
        {
            return PortalResult.Success($"Key {key.Prefix}… was already revoked.");
        }

        var revoked = await _keys.RevokeAsync(key.Id, ct);
        return revoked.Ok ? PortalResult.Success($"Key {key.Prefix}… is revoked: requests with it are refused from now on.") : PortalResult.Refused(revoked.Error!.Message);
    }
}
