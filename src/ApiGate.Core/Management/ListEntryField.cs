using System.Globalization;

namespace ApiGate.Core.Management;

/// <summary>
/// The field of one entry of a list, such as a target's URL: named <c>targets.1.url</c> in
/// <see cref="ManagementError.Field"/>, so the admin API points at it (<c>/targets/1/url</c>), while the CLI and the
/// console show the error where the list is given (its flag, <c>--target</c>; its form field, <c>targets</c>). The
/// error's message therefore names the entry itself (<c>targets[1].url: …</c>).
/// </summary>
public static class ListEntryField
{
    /// <summary>A refusal of entry <paramref name="index"/>'s <paramref name="member"/> in <paramref name="list"/>, its message naming the entry.</summary>
    public static ManagementError Invalid(string list, int index, string member, string problem) =>
        Outcomes.Invalid(string.Create(CultureInfo.InvariantCulture, $"{list}.{index}.{member}"), Shown(list, index, member) + ": " + problem);

    /// <summary>The entry as text names it: <c>targets[1].url</c>.</summary>
    public static string Shown(string list, int index, string member) => string.Create(CultureInfo.InvariantCulture, $"{list}[{index}].{member}");

    /// <summary>The list <paramref name="field"/> is an entry's field of (<c>targets.1.url</c> → <c>targets</c>); the field itself when it is none.</summary>
    public static string ListOf(string field) => Parse(field) is (var list, _, _) ? list : field;

    /// <summary>
    /// <paramref name="error"/>'s problem without the entry its message starts with (<c>targets[1].url: </c>), and what
    /// names the field in text (<c>targets[1].url</c>, or the field as it is when it is no entry's).
    /// </summary>
    public static (string Name, string Problem) Split(ManagementError error)
    {
        if (Parse(error.Field) is (var list, var index, var member))
        {
            var name = Shown(list, index, member);
            return (name, error.Message.StartsWith(name + ": ", StringComparison.Ordinal) ? error.Message[(name.Length + 2)..] : error.Message);
        }

        return (error.Field, error.Message);
    }

    /// <summary><c>targets.1.url</c> as its parts; null for a field that names no list entry.</summary>
    public static (string List, int Index, string Member)? Parse(string field)
    {
        var parts = field.Split('.');
        return parts.Length == 3 && parts[0].Length > 0 && parts[2].Length > 0
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            ? (parts[0], index, parts[2])
            : null;
    }
}
