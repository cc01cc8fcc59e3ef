using ApiGate.Core.Identity;
using ApiGate.Gateway.Snapshots;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// Who is calling: the authenticated key, its owner and the owner's plan (for one snapshot; cached with the key). A JWT
/// caller carries a credential record of its own in place of a key (id <c>jwt_{user id}</c>, never stored).
/// </summary>
internal sealed record RequestIdentity(ApiKeyDefinition Key, UserDefinition User, PlanRuntime Plan);
