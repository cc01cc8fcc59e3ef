using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Shared;

/// <summary>Reads a posted form's fields as text, the way the CLI reads its options: absent = not given.</summary>
public sealed class FormValues(IFormCollection form)
{
    /// <summary>The field's value (the last one when repeated, as a checkbox after its hidden "false"); null when absent.</summary>
    public string? Text(string name) => form.TryGetValue(name, out var values) && values.Count > 0 ? values[^1] : null;

    /// <summary>The field trimmed; null when absent.</summary>
    public string? Trimmed(string name) => Text(name)?.Trim();

    /// <summary>The field trimmed; null when absent or blank.</summary>
    public string? NonBlank(string name) => Trimmed(name) is { Length: > 0 } value ? value : null;

    /// <summary>
    /// A checkbox (<c>FormField</c>'s: a hidden "false", then "true" when ticked) or a hidden true/false field: null when
    /// absent; else its last value, which must be "true" or "false" as every one before it — any other value (a crafted
    /// "yes", "on", "1") is an error naming the field, never read as false.
    /// </summary>
    public bool? Bool(string name, FormErrors errors)
    {
        if (!form.TryGetValue(name, out var values) || values.Count == 0)
        {
            return null;
        }

        foreach (var value in values)
        {
            if (value is not ("true" or "false"))
            {
                errors.Add(name, "is not true or false (what the checkbox sends: true when ticked, false when not)");
                return null;
            }
        }

        return values[^1] == "true";
    }

    /// <summary>A whole number; null when blank; an error (naming the field) when not a number.</summary>
    public long? Number(string name, FormErrors errors)
    {
        var text = NonBlank(name);
        if (text is null)
        {
            return null;
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        errors.Add(name, $"'{text}' is not a whole number");
        return null;
    }

    /// <summary>
    /// A whole number for a field that holds an <see cref="int"/>; null when blank; an error (naming the field) when not a
    /// number or outside the int range — never cut to its low 32 bits, which read 4294967356 as 60 and stored that.
    /// </summary>
    public int? Int(string name, FormErrors errors)
    {
        var value = Number(name, errors);
        if (value is > int.MaxValue or < int.MinValue)
        {
            errors.Add(name, string.Create(CultureInfo.InvariantCulture, $"'{value}' is out of range (at most {int.MaxValue})"));
            return null;
        }

        return (int?)value;
    }

    /// <summary>One entry per non-blank line.</summary>
    public IReadOnlyList<string>? Lines(string name) =>
        Text(name) is { } text ? text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null;
}
