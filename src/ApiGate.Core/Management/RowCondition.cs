using ApiGate.Core.Storage;

namespace ApiGate.Core.Management;

/// <summary>
/// The precondition of a conditional write (HTTP <c>If-Match</c>, RFC 9110 §13.1.1): the row is changed only while its
/// version (<see cref="RowVersion.Tag"/>) is one of <see cref="Tags"/>, or, with <see cref="AnyVersion"/>, whatever it
/// is. It is checked on the row each attempt of the write reads, so a write that loses a race to another one reads the
/// newer row, no longer matches, and is refused instead of being applied to a row its sender has not seen.
/// </summary>
public sealed record RowCondition(IReadOnlyList<string> Tags, bool AnyVersion = false)
{
    /// <summary><c>If-Match: *</c>: the row must exist, in any version.</summary>
    public static RowCondition Any { get; } = new([], AnyVersion: true);

    /// <summary>Null when a <paramref name="kind"/> of this <paramref name="version"/> may be written; else why not.</summary>
    public ManagementError? Refuse(string kind, string reference, DateTimeOffset version)
    {
        var tag = RowVersion.Tag(version);
        return AnyVersion || Tags.Contains(tag, StringComparer.Ordinal)
            ? null
            : new ManagementError(ManagementErrorKind.PreconditionFailed, "",
                $"the {kind} '{reference}' was changed since the version If-Match names: its ETag is now {tag}; read it again and apply your change to that")
            {
                CurrentVersion = version,
            };
    }
}
