namespace ApiGate.Gateway.Admin;

/// <summary>
/// The admin token a request was admitted with, set as a request feature by <see cref="AdminAuthenticator"/> for the
/// audit log: its id and name, never the token.
/// </summary>
internal sealed record AdminCaller(string TokenId, string TokenName);
