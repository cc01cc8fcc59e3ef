namespace ApiGate.Core.Storage;

/// <summary>
/// One page of a list read from the store, and <see cref="Total"/>: how many items the whole list holds.
/// <see cref="Next"/>, for lists that can be read by cursor, is where the page after this one starts (null when no item follows).
/// </summary>
public sealed record StorePage<T>(IReadOnlyList<T> Items, int Total, ListCursor? Next = null);

/// <summary>
/// A position in a list read by cursor: the sort value (as stored) and the id of the last item read. The page after it
/// starts right behind that item in the list's order, whatever was added or removed since — so a client paging through a
/// list that changes meanwhile (revoking each key of a page, say) neither skips nor repeats an item, as counting by
/// offset would. On a list of the newest rows (a window: <c>limit</c> of the recent usage and the audit trail),
/// <paramref name="Left"/> is how many rows of the window, as it was on the first page, are still to come, so rows added
/// meanwhile neither show up nor push older rows out of it.
/// </summary>
public sealed record ListCursor(string SortValue, string Id, int? Left = null);
