namespace ApiGate.Core.Management;

/// <summary>
/// What <see cref="StoredConfigCheck.ValidateStoredAsync"/> found, one line each: <see cref="Problems"/> make the
/// configuration invalid (<c>apigate config validate</c> exits 1); <see cref="Warnings"/> are worth knowing but the
/// gateway serves the configuration as it is (a route stored before a bound on its lists or a rule on its transforms).
/// </summary>
public sealed record StoredConfigFindings(IReadOnlyList<string> Problems, IReadOnlyList<string> Warnings);
