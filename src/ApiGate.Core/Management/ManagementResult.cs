namespace ApiGate.Core.Management;

/// <summary>Why a management operation was refused.</summary>
public enum ManagementErrorKind
{
    /// <summary>Bad input; <see cref="ManagementError.Field"/> names the field.</summary>
    Validation,
    /// <summary>The referenced resource does not exist.</summary>
    NotFound,
    /// <summary>A uniqueness or in-use rule.</summary>
    Conflict,
    /// <summary>An outside service the operation needs (the billing provider) failed; nothing was written, try again.</summary>
    Unavailable,
    /// <summary>The row is not in the version the request's precondition (<see cref="RowCondition"/>) names: nothing was written.</summary>
    PreconditionFailed,
}

/// <summary>A refused operation: nothing was written.</summary>
public sealed record ManagementError(ManagementErrorKind Kind, string Field, string Message)
{
    /// <summary>For <see cref="ManagementErrorKind.PreconditionFailed"/>: the version the row has now, so the answer can name its ETag.</summary>
    public DateTimeOffset? CurrentVersion { get; init; }

    /// <summary>The field and the message; a list entry's field as text names it (<c>targets[1].url: …</c>, said once).</summary>
    public override string ToString() => ListEntryField.Split(this) is var (name, problem) && name.Length > 0 ? $"{name}: {problem}" : Message;
}

/// <summary>The outcome of a management operation: a value, or an error and no change.</summary>
public readonly record struct ManagementResult<T>(T? Value, ManagementError? Error)
{
    public bool Ok => Error is null;

    public static implicit operator ManagementResult<T>(T value) => new(value, null);

    public static implicit operator ManagementResult<T>(ManagementError error) => new(default, error);
}
