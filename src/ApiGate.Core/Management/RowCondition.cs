using ApiGate.Core.Storage;

namespace ApiGate.Core.Management;

/// <summary>
/// The precondition of a conditional write (HTTP <c>If-Match</c>, RFC 9110 §13.1.1): the row is changed only while its
/// version (<see cref="RowVersion.Tag"/>) is one of <see cref="Tags"/>, or, with <see cref="AnyVersion"/>, whatever it
/// is. It is checked on the row each attempt of the write reads, so a write that loses a race to another one reads the
/// newer row, no longer matches, and is refused instead of being applied to a row its sender has not seen.
/// </summary>
/// <remarks>
/// <see cref="WeakTags"/> are the weak tags the header also named, in their strong form: they never match (If-Match
/// compares strongly), but a refusal says so when one of them names the current version, rather than that the row was
/// changed.
/// </remarks>
public sealed record RowCondition(IReadOnlyList<string> Tags, bool AnyVersion = false, IReadOnlyList<string>? WeakTags = null)
{
    /// <summary><c>If-Match: *</c>: the row must exist, in any version.</summary>
    public static RowCondition Any { get; } = new([], AnyVersion: true);

    /// <summary>Null when a <paramref name="kind"/> of this <paramref name="version"/> may be written; else why not.</summary>
    public ManagementError? Refuse(string kind, string reference, DateTimeOffset version)
    {
        var tag = RowVersion.Tag(version);
        if (AnyVersion || Tags.Contains(tag, StringComparer.Ordinal))
        {
            return null;
        }

        var why = WeakTags?.Contains(tag, StringComparer.Ordinal) == true
            ? $"If-Match names the {kind} '{reference}' in its current version only as a weak tag, W/{tag}, which never matches (If-Match compares strongly): send the ETag as it is given, {tag}"
            : $"the {kind} '{reference}' was changed since the version If-Match names: its ETag is now {tag}; read it again and apply your change to that";
        return new ManagementError(ManagementErrorKind.PreconditionFailed, "", why) { CurrentVersion = version };
    }
}
