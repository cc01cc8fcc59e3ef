using ApiGate.Core.Storage;

namespace ApiGate.Core.Management;

/// <summary>Shared helpers of the management services: error values and the write-or-conflict step.</summary>
internal static class Outcomes
{
    public static ManagementError Invalid(string field, string message) => new(ManagementErrorKind.Validation, field, message);

    /// <summary>A <paramref name="kind"/> that does not exist, naming what it is looked up by (upstreams by id or slug, users by id or email…).</summary>
    public static ManagementError NotFound(string kind, string reference) =>
        new(ManagementErrorKind.NotFound, "", $"no {kind} with {LookedUpBy(kind)} '{reference}'");

    private static string LookedUpBy(string kind) => kind switch
    {
        "upstream" or "route" => "id or slug",
        "user" => "id or email",
        "entitlement" or "admin token" => "id or name",
        _ => "id",
    };

    /// <summary>
    /// Runs a read-change-write <paramref name="attempt"/> again while another request changes the same row between its
    /// read and its write (<see cref="ConflictBackOff.Attempts"/> times, each after a short random wait of
    /// <paramref name="backOff"/>), so concurrent updates of different fields all land; a 409 if it keeps happening.
    /// </summary>
    public static async Task<ManagementResult<T>> RetryWhenChangedAsync<T>(
        Func<Task<ManagementResult<T>>> attempt, ConflictBackOff backOff, CancellationToken cancellationToken)
    {
        try
        {
            return await backOff.RetryWhenChangedAsync(attempt, cancellationToken);
        }
        catch (StoreChangedMeanwhileException ex)
        {
            return new ManagementError(ManagementErrorKind.Conflict, "", ex.Message + "; try again");
        }
    }

    /// <summary>
    /// Deletes the <paramref name="kind"/> that <paramref name="find"/> finds by <paramref name="reference"/>; a delete
    /// that finds it deleted meanwhile (the same delete sent twice at once) reads again and answers not found.
    /// </summary>
    public static Task<ManagementResult<T>> DeleteFoundAsync<T>(
        string kind, string reference, Func<CancellationToken, Task<T?>> find, Func<T, CancellationToken, Task> delete, CancellationToken cancellationToken)
        where T : class =>
        DeleteFoundAsync(kind, reference, find, _ => null, delete, cancellationToken);

    /// <summary>The same, refused with <paramref name="refuse"/>'s error when it gives one for the row found.</summary>
    public static Task<ManagementResult<T>> DeleteFoundAsync<T>(
        string kind, string reference, Func<CancellationToken, Task<T?>> find, Func<T, ManagementError?> refuse, Func<T, CancellationToken, Task> delete,
        CancellationToken cancellationToken)
        where T : class =>
        RetryWhenChangedAsync(async () =>
        {
            if (await find(cancellationToken) is not { } existing)
            {
                return NotFound(kind, reference);
            }

            return refuse(existing) ?? await WriteAsync(existing, delete, cancellationToken);
        }, ConflictBackOff.Default, cancellationToken);

    /// <summary>
    /// The same for a row with a version (<paramref name="versionOf"/>): refused (412) when <paramref name="condition"/>
    /// does not hold for the row found, and <paramref name="delete"/> given the version read (null without a condition),
    /// so the store keeps a row changed between that check and the delete.
    /// </summary>
    public static Task<ManagementResult<T>> DeleteFoundAsync<T>(
        string kind, string reference, Func<CancellationToken, Task<T?>> find, Func<T, DateTimeOffset> versionOf, RowCondition? condition,
        Func<T, DateTimeOffset?, CancellationToken, Task> delete, CancellationToken cancellationToken)
        where T : class =>
        DeleteFoundAsync(kind, reference, find, x => condition?.Refuse(kind, reference, versionOf(x)),
            (x, ct) => delete(x, condition is null ? null : versionOf(x), ct), cancellationToken);

    /// <summary>
    /// <paramref name="written"/>, unless it is a name conflict that another row's slug caused rather than its name (a name
    /// that differs in accents or punctuation makes the same slug): then a conflict saying which row has it.
    /// <paramref name="nameOfSlug"/> finds the name of the row of a slug (null when none).
    /// </summary>
    public static async Task<ManagementResult<T>> SlugTakenAsync<T>(
        ManagementResult<T> written, string kind, string name, string slug, Func<string, Task<string?>> nameOfSlug)
    {
        // A name that differs only in case is the same name, as the refusal says already.
        if (written.Error is not { Kind: ManagementErrorKind.Conflict, Field: "name" } || await nameOfSlug(slug) is not { } holder
            || holder.Equals(name, StringComparison.OrdinalIgnoreCase))
        {
            return written;
        }

        return new ManagementError(ManagementErrorKind.Conflict, "name",
            $"the name '{name}' makes the slug '{slug}', which {kind} '{holder}' has: choose a name that differs from it in more than case, accents and punctuation");
    }

    /// <summary>Runs the store write; a uniqueness or in-use refusal becomes a conflict error.</summary>
    public static async Task<ManagementResult<T>> WriteAsync<T>(T value, Func<T, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        try
        {
            await write(value, cancellationToken);
            return value;
        }
        catch (StoreConflictException ex)
        {
            return new ManagementError(ManagementErrorKind.Conflict, ex.Field, ex.Message);
        }
    }
}
