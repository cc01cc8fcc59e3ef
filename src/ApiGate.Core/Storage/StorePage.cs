namespace ApiGate.Core.Storage;

/// <summary>One page of a list read from the store, and <see cref="Total"/>: how many items the whole list holds.</summary>
public sealed record StorePage<T>(IReadOnlyList<T> Items, int Total);
