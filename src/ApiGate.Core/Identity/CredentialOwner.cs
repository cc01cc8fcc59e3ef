namespace ApiGate.Core.Identity;

/// <summary>
/// The user a credential (an API key, a token's subject) belongs to, as authentication reads it on a cache miss: the user,
/// and whether their billing customer's subscription is in a paying state as stored
/// (<see cref="Billing.SubscriptionOrdering.IsPaying(string, string)"/>; no customer: false). Read in the same query as the
/// user, so a lookup is one round trip with billing on or off; whether billing is on is the caller's to weigh.
/// </summary>
public sealed record CredentialOwner(UserDefinition User, bool Paying);
