namespace ApiGate.Storage.Secrets;

/// <summary>
/// What rekeying did to one kind of stored secret: how many were written with the previous key and are now with the
/// current one, how many were plaintext and are now encrypted, and how many already were under the current key.
/// </summary>
public sealed record RekeyedSecrets(string Kind, string Table, int Reencrypted, int Encrypted, int Current);
