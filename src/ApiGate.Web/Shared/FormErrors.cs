using ApiGate.Core.Management;

namespace ApiGate.Web.Shared;

/// <summary>A form's refusals by field name (the services' <see cref="ManagementError.Field"/>); errors without a field show above the form.</summary>
public sealed class FormErrors
{
    private readonly Dictionary<string, string> _byField = new(StringComparer.Ordinal);

    public bool Any => _byField.Count > 0 || General is not null;

    /// <summary>A refusal that names no field (not found, a conflict without a field).</summary>
    public string? General { get; private set; }

    public string? For(string field) => _byField.GetValueOrDefault(field);

    public void Add(string field, string message)
    {
        if (field.Length == 0)
        {
            General = message;
        }
        else
        {
            // A list entry's field (targets.1.url) is shown at the list's form field; the message names the entry.
            _byField.TryAdd(ListEntryField.ListOf(field), message);
        }
    }

    /// <summary>Records a service's refusal; returns false so handlers can write <c>if (!errors.Accept(result)) return;</c>.</summary>
    public bool Accept<T>(ManagementResult<T> result)
    {
        if (result.Error is { } error)
        {
            Add(error.Field, error.Message);
            return false;
        }

        return true;
    }
}
