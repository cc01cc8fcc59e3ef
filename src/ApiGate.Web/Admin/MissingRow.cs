namespace ApiGate.Web.Admin;

/// <summary>
/// The row a console page was asked about and the store does not hold (deleted meanwhile, through the admin API, the
/// CLI or another session, or never there): <see cref="AdminSessionGate"/> answers 404 with a page naming it and linking
/// to its list.
/// </summary>
/// <param name="Kind">What it is, as the admin API names it: "route", "plan", "user", "key", …; empty for <see cref="Refused"/>.</param>
/// <param name="Name">How the operator knows it: a route's name, a user's email, a key's prefix.</param>
/// <param name="ListPath">The console's list of its kind.</param>
/// <param name="ListName">That list's name in "Back to the …" when it is not the kind's plural ("deliveries of wh_1").</param>
internal sealed record MissingRow(string Kind, string Name, string ListPath, string? ListName = null)
{
    /// <summary>
    /// Whether the console showed the row (the page knows it, or a label it sealed names it), so it was there and is gone
    /// now; false for an id only the request names, which may never have been a row: then it is "not found", its id cut.
    /// </summary>
    public bool Shown { get; init; } = true;

    /// <summary>
    /// A change refused because something it named is not in the store, the page having no row of its own to name:
    /// the 404 page says <paramref name="message"/> (the service's error) and links back to <paramref name="pagePath"/>.
    /// </summary>
    public static MissingRow Refused(string message, string pagePath) => new("", message, pagePath, "page");
}
