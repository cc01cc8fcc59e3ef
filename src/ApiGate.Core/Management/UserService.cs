using System.Globalization;
using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>Users (API consumers) and the plan each is on: validated and written here for the CLI and the admin API alike.</summary>
public sealed class UserService(IIdentityStore store, TimeProvider timeProvider, ConflictBackOff? conflictBackOff = null)
{
    private readonly ConflictBackOff _conflictBackOff = conflictBackOff ?? ConflictBackOff.Default;

    public Task<IReadOnlyList<UserDefinition>> ListAsync(CancellationToken ct) => store.ListUsersAsync(ct);

    /// <summary>
    /// One page of the users by email, of those whose email contains <paramref name="emailContains"/> (blank: all): after
    /// the first <paramref name="offset"/>, or right after <paramref name="after"/> when given.
    /// </summary>
    public Task<StorePage<UserDefinition>> ListPageAsync(string? emailContains, long offset, int count, CancellationToken ct, ListCursor? after = null) =>
        store.ListUsersPageAsync(string.IsNullOrWhiteSpace(emailContains) ? null : emailContains.Trim(), (int)Math.Min(offset, int.MaxValue), after, count, ct);

    public async Task<ManagementResult<UserDefinition>> GetAsync(string idOrEmail, CancellationToken ct) =>
        await store.FindUserAsync(idOrEmail, ct) is { } user ? user : NotFound("user", idOrEmail);

    public async Task<ManagementResult<UserDefinition>> CreateAsync(UserChanges input, CancellationToken ct)
    {
        var built = await BuildNewAsync(input, ct);
        return built.Error ?? await WriteAsync(built.Value!, store.CreateUserAsync, ct);
    }

    /// <summary>
    /// The user <see cref="CreateAsync"/> would write, checked by the same rules (email, default plan), without writing
    /// it: for callers that store the user together with rows of their own in one transaction (portal sign-up).
    /// </summary>
    public async Task<ManagementResult<UserDefinition>> BuildNewAsync(UserChanges input, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(input.Email))
        {
            return Invalid("email", "email is required");
        }

        var planId = input.Plan;
        if (string.IsNullOrWhiteSpace(planId))
        {
            var plans = await store.ListPlansAsync(ct);
            planId = plans.FirstOrDefault(p => p.IsDefault)?.Id;
            if (planId is null)
            {
                // Worded for every surface alike: the CLI marks a plan with --default, the admin API with is_default,
                // the console with the plan form's default box.
                return Invalid("plan", "no plan given and no default plan exists: give a plan, or mark a plan as the default");
            }
        }

        var now = timeProvider.GetUtcNow();
        return await ApplyUserAsync(new UserDefinition { Id = Ids.New("usr"), Email = "", PlanId = "", CreatedAt = now, UpdatedAt = now },
            input with { Plan = planId }, ct);
    }

    /// <summary>
    /// Applies the given fields to the user as stored; written only if nobody (another request, a billing event, the
    /// portal) changed the user meanwhile, else applied again to the newer user (a few times, then a conflict).
    /// </summary>
    public Task<ManagementResult<UserDefinition>> UpdateAsync(string idOrEmail, UserChanges input, CancellationToken ct) =>
        UpdateAsync(idOrEmail, input, null, ct);

    /// <summary>Applies <paramref name="input"/> while <paramref name="condition"/> (when given) holds for the row as stored.</summary>
    public Task<ManagementResult<UserDefinition>> UpdateAsync(string idOrEmail, UserChanges input, RowCondition? condition, CancellationToken ct) =>
        UpdateWithAsync(idOrEmail, input, condition, store.UpdateUserAsync, ct);

    /// <summary>
    /// Moves the user to <paramref name="planId"/> as <see cref="UpdateAsync(string, UserChanges, CancellationToken)"/>
    /// does, for a customer changing their own plan without paying: the write itself requires the plan to be enabled,
    /// visible and free in both prices at that moment (<see cref="IIdentityStore.UpdateUserToFreePlanAsync"/>), so a
    /// check the caller made before cannot be overtaken by an operator's change to the plan. A conflict on <c>plan</c>
    /// when the plan is not such a plan any more.
    /// </summary>
    public Task<ManagementResult<UserDefinition>> ChangeToFreePlanAsync(string idOrEmail, string planId, CancellationToken ct) =>
        UpdateWithAsync(idOrEmail, new UserChanges { Plan = planId }, null, store.UpdateUserToFreePlanAsync, ct);

    private Task<ManagementResult<UserDefinition>> UpdateWithAsync(string idOrEmail, UserChanges input, RowCondition? condition,
        Func<UserDefinition, DateTimeOffset, CancellationToken, Task> write, CancellationToken ct) =>
        RetryWhenChangedAsync(async () =>
        {
            var existing = await store.FindUserAsync(idOrEmail, ct);
            if (existing is null)
            {
                return NotFound("user", idOrEmail);
            }

            if (condition?.Refuse("user", idOrEmail, existing.UpdatedAt) is { } stale)
            {
                return stale;
            }

            var built = await ApplyUserAsync(existing with { UpdatedAt = Storage.RowVersion.ChangedAt(timeProvider, existing.UpdatedAt) }, input, ct);
            return built.Error
                ?? (Unchanged.Same(existing, built.Value!) ? existing
                : await WriteAsync(built.Value!, (user, c) => write(user, existing.UpdatedAt, c), ct));
        }, _conflictBackOff, ct);

    /// <summary>Deletes it; the same delete sent twice at once answers not found to the second (<see cref="Outcomes.DeleteFoundAsync"/>).</summary>
    public Task<ManagementResult<UserDefinition>> DeleteAsync(string idOrEmail, CancellationToken ct) =>
        DeleteAsync(idOrEmail, null, ct);

    /// <summary>Deletes it while <paramref name="condition"/> (when given) holds for the row as read.</summary>
    public Task<ManagementResult<UserDefinition>> DeleteAsync(string idOrEmail, RowCondition? condition, CancellationToken ct) =>
        DeleteFoundAsync("user", idOrEmail, c => store.FindUserAsync(idOrEmail, c), x => x.UpdatedAt, condition, (u, readAt, c) => store.DeleteUserAsync(u.Id, readAt, c), ct);

    /// <summary>The JWT identities linked to the user.</summary>
    public async Task<ManagementResult<IReadOnlyList<UserIdentity>>> ListIdentitiesAsync(string idOrEmail, CancellationToken ct)
    {
        var user = await store.FindUserAsync(idOrEmail, ct);
        return user is null ? NotFound("user", idOrEmail) : new ManagementResult<IReadOnlyList<UserIdentity>>(await store.ListIdentitiesAsync(user.Id, ct), null);
    }

    /// <summary>
    /// Links a JWT subject to the user, so the issuer's tokens for it act as that user (also when the token's email
    /// belongs to the user, which the gateway never links by itself). A subject linked already, to this user or another,
    /// is a conflict (unlink it first).
    /// </summary>
    public async Task<ManagementResult<UserIdentity>> LinkIdentityAsync(string idOrEmail, IdentityLink link, CancellationToken ct)
    {
        var user = await store.FindUserAsync(idOrEmail, ct);
        if (user is null)
        {
            return NotFound("user", idOrEmail);
        }

        if (await LinkedAlreadyAsync(user, link, ct) is { } linked)
        {
            return linked;
        }

        var identity = new UserIdentity { Issuer = link.Issuer, Subject = link.Subject, UserId = user.Id, CreatedAt = timeProvider.GetUtcNow() };
        var written = await WriteAsync(identity, (i, c) => store.LinkIdentityAsync(i, configuration: true, c), ct);

        // Linked by another write between the look above and this one's: named as it would have been had it come first.
        return written.Error is { Kind: ManagementErrorKind.Conflict, Field: "subject" } && await LinkedAlreadyAsync(user, link, ct) is { } linkedMeanwhile
            ? linkedMeanwhile
            : written;
    }

    /// <summary>A conflict naming the user the subject is linked to already (this one or another); null when it is linked to none.</summary>
    private async Task<ManagementError?> LinkedAlreadyAsync(UserDefinition user, IdentityLink link, CancellationToken ct) =>
        await store.FindUserByIdentityAsync(link.Issuer, link.Subject, ct) is { } linked
            ? new ManagementError(ManagementErrorKind.Conflict, "subject", linked.Id == user.Id
                ? $"this subject of {link.Issuer} is linked to this user already"
                : $"this subject of {link.Issuer} is linked to user {linked.Email} ({linked.Id}); unlink it there first")
            : null;

    /// <summary>Removes the link of a JWT subject to the user; the issuer's tokens for it are then an unknown subject again.</summary>
    public async Task<ManagementResult<UserIdentity>> UnlinkIdentityAsync(string idOrEmail, IdentityLink link, CancellationToken ct)
    {
        var user = await store.FindUserAsync(idOrEmail, ct);
        if (user is null)
        {
            return NotFound("user", idOrEmail);
        }

        var existing = (await store.ListIdentitiesAsync(user.Id, ct)).FirstOrDefault(i => Is(i, link));
        return existing is not null && await store.UnlinkIdentityAsync(existing.Issuer, existing.Subject, user.Id, ct)
            ? existing
            : new ManagementError(ManagementErrorKind.NotFound, "subject", $"user {user.Email} has no link to this subject of {link.Issuer}");
    }

    private static bool Is(UserIdentity identity, IdentityLink link) =>
        identity.Subject == link.Subject && UserIdentity.SameIssuer(identity.Issuer, link.Issuer);

    /// <summary>
    /// The user stored, before the spelling rules, under another spelling of the mailbox <paramref name="email"/> names
    /// (same <see cref="Emails.Key"/>, another address: <c>bob@XN--BCHER-KVA.example</c>, <c>bob@bücher。example</c> for
    /// <c>bob@bücher.example</c>), or null: one look-up by the stored key, never a scan of the users.
    /// </summary>
    public static async Task<UserDefinition?> HolderOfAnotherSpellingAsync(IIdentityStore store, string email, CancellationToken ct) =>
        // Compared again: FindUserAsync also finds a user whose id is the text given.
        await store.FindUserAsync(email, ct) is { } user && !string.Equals(user.Email, Emails.Canonical(email), StringComparison.OrdinalIgnoreCase)
            && string.Equals(Emails.Key(user.Email), Emails.Key(email), StringComparison.Ordinal)
            ? user
            : null;

    private async Task<ManagementResult<UserDefinition>> ApplyUserAsync(UserDefinition u, UserChanges input, CancellationToken ct)
    {
        if ((TextFields.Check(("email", input.Email), ("name", input.Name)) ?? TextFields.CheckInvisible("name", input.Name, u.Name)) is { } textProblem)
        {
            return textProblem;
        }

        // The address as stored sent back unchanged (a read-modify-write) is not checked again: rules added since it was
        // stored (spelling, characters refused) must not make every other change of its user fail.
        if (input.Email is not null && !(u.Email is { Length: > 0 } stored && string.Equals(Emails.Canonical(input.Email.Trim()), stored, StringComparison.Ordinal)))
        {
            var email = input.Email.Trim();
            var at = email.IndexOf('@');
            if (at <= 0 || at == email.Length - 1 || email.IndexOf('@', at + 1) >= 0 || email.Any(char.IsWhiteSpace) || email.Length > 254)
            {
                return Invalid("email", $"'{input.Email}' is not an email address");
            }

            if (email.IndexOfAny(['/', '\\', '%', '?', '#', '<', '>', '"', ',', ';']) is >= 0 and var bad)
            {
                // Some are legal in a quoted mailbox name, but an address is also how the CLI and the admin API name a
                // user in a URL path (/admin/users/{email}), where / \ % ? # cannot stand for themselves; < > " , ;
                // make an address that mail software reads as another (or as several), as the portal already refuses.
                return Invalid("email", $"'{input.Email}' contains '{email[bad]}', which this gateway does not accept in an email address");
            }

            if (TextFields.IndexOfInvisible(email) is >= 0 and var invisible)
            {
                return Invalid("email", string.Create(CultureInfo.InvariantCulture,
                    $"contains an invisible character (U+{Text.CodePoints.At(email, invisible):X4} at position {invisible + 1}): an address must read as the one mail goes to"));
            }

            if (Emails.SpellingProblem(email) is { } mark)
            {
                return Invalid("email", mark);
            }

            // The store's unique index compares the address as stored: an account stored before the spelling rules under
            // another spelling of this mailbox (bob@XN--BCHER-KVA.example, bob@bücher.example.) would not stop a second user.
            var canonical = Emails.Canonical(email);
            if (await HolderOfAnotherSpellingAsync(store, canonical, ct) is { } holder && holder.Id != u.Id)
            {
                return new ManagementError(ManagementErrorKind.Conflict, "email",
                    $"a user with email '{holder.Email}' already exists, which is another spelling of '{canonical}'");
            }

            u = u with { Email = canonical };
        }

        if (input.Name is not null)
        {
            u = u with { Name = input.Name.Trim() };
        }

        if (input.Plan is not null)
        {
            var plan = await store.FindPlanAsync(input.Plan.Trim(), ct);
            if (plan is null)
            {
                return Invalid("plan", $"unknown plan '{input.Plan}'");
            }

            if (!plan.Enabled && plan.Id != u.PlanId)
            {
                return Invalid("plan", $"plan '{plan.Id}' is disabled; enable it or choose another");
            }

            u = u with { PlanId = plan.Id };
        }

        if (input.Status is { } status)
        {
            u = u with { Status = status };
        }

        return u;
    }
}
