namespace ApiGate.Core.Storage;

/// <summary>One admitted change through the admin API or the admin console: who (the admin token's id and name), what, when. Never a credential.</summary>
/// <param name="Id">Assigned by the store, increasing.</param>
/// <param name="Note">What was done in words when the handler said so (the console: "Created plan gold."), else empty.</param>
public sealed record AdminAuditRecord(
    long Id, DateTimeOffset At, string Method, string Path, int Status, string TokenId, string TokenName, string ClientIp, string Note);

/// <summary>
/// The admin audit trail in the store (SPEC §12–13): every instance writes its changes there, so the console's audit
/// page shows the changes made through any of them. The <c>ApiGate.Admin</c> log lines (event 7020) stay the complete
/// record of every request, refused ones included.
/// </summary>
public interface IAdminAuditStore
{
    /// <summary>Appends a change (its <see cref="AdminAuditRecord.Id"/> is ignored: the store assigns one).</summary>
    Task AddAdminAuditAsync(AdminAuditRecord record, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="limit"/> changes, newest first.</summary>
    Task<IReadOnlyList<AdminAuditRecord>> ListAdminAuditAsync(int limit, CancellationToken cancellationToken);

    /// <summary>
    /// One page of the newest <paramref name="limit"/> changes, newest first: at most <paramref name="count"/> after the
    /// first <paramref name="offset"/>, or right after <paramref name="after"/> (offset 0) within the window as it was on
    /// the first page; with how many the window holds and the cursor of the page that follows. Only the page is read.
    /// </summary>
    Task<StorePage<AdminAuditRecord>> ListAdminAuditPageAsync(int limit, int offset, ListCursor? after, int count, CancellationToken cancellationToken);

    /// <summary>Deletes the changes made before <paramref name="before"/>; returns how many.</summary>
    Task<int> DeleteAdminAuditBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken);
}
