namespace ApiGate.Core.Management;

/// <summary>
/// A field of a change where "not given" and "given as null" differ: <c>default</c> = not given (keep the value);
/// given null = back to the default (an upstream's timeout, a route's upstream, the passive-failure threshold).
/// </summary>
public readonly record struct Optional<T>
{
    public Optional(T value)
    {
        HasValue = true;
        Value = value;
    }

    /// <summary>Whether the field was given.</summary>
    public bool HasValue { get; }

    /// <summary>The given value; meaningful only when <see cref="HasValue"/>.</summary>
    public T Value { get; }

    public static implicit operator Optional<T>(T value) => new(value);
}
