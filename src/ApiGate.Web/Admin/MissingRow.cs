namespace ApiGate.Web.Admin;

/// <summary>
/// The row a console page was asked about and the store does not hold (deleted meanwhile, through the admin API, the
/// CLI or another session): <see cref="AdminSessionGate"/> answers 404 with a page naming it and linking to its list.
/// </summary>
/// <param name="Kind">What it is, as the admin API names it: "route", "plan", "user", "key", …</param>
/// <param name="Name">How the operator knows it: a route's name, a user's email, a key's prefix.</param>
/// <param name="ListPath">The console's list of its kind.</param>
/// <param name="ListName">That list's name in "Back to the …" when it is not the kind's plural ("deliveries of wh_1").</param>
internal sealed record MissingRow(string Kind, string Name, string ListPath, string? ListName = null);
