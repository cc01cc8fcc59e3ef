using System.Collections;
using System.Reflection;

namespace ApiGate.Core.Management;

/// <summary>
/// Whether applying an update left a row as stored (its version, <c>UpdatedAt</c>, aside: applying always moves it): the updates of the versioned resources write nothing then — the
/// version (ETag, <c>updated_at</c>) and the config version stay, so a client that sends its desired state again and
/// again (a reconciler, a CLI <c>update</c> without flags) neither makes every instance reload nor turns other clients'
/// <c>If-Match</c> stale. Compared value by value through every property, lists and dictionaries entry by entry —
/// secrets included, whatever the wire format shows of them.
/// </summary>
public static class Unchanged
{
    /// <summary>The property holding a row's version, which <see cref="Same{T}"/> does not compare.</summary>
    private const string Version = "UpdatedAt";

    /// <summary>True when <paramref name="applied"/> holds the same values as <paramref name="stored"/>, its version aside.</summary>
    public static bool Same<T>(T stored, T applied)
        where T : class => SameValue(stored, applied, depth: 0);

    private static bool SameValue(object? a, object? b, int depth)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a is null || b is null || a.GetType() != b.GetType() || depth > 16)
        {
            return false;
        }

        var type = a.GetType();
        if (type.IsPrimitive || type.IsEnum || a is string or decimal or DateTimeOffset or DateTime or TimeSpan or Guid or Uri)
        {
            return a.Equals(b);
        }

        if (a is IDictionary left && b is IDictionary right)
        {
            if (left.Count != right.Count)
            {
                return false;
            }

            foreach (DictionaryEntry entry in left)
            {
                if (!right.Contains(entry.Key) || !SameValue(entry.Value, right[entry.Key], depth + 1))
                {
                    return false;
                }
            }

            return true;
        }

        if (a is IEnumerable first && b is IEnumerable second)
        {
            var one = first.GetEnumerator();
            var other = second.GetEnumerator();
            while (true)
            {
                var more = one.MoveNext();
                if (more != other.MoveNext())
                {
                    return false;
                }

                if (!more)
                {
                    return true;
                }

                if (!SameValue(one.Current, other.Current, depth + 1))
                {
                    return false;
                }
            }
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length == 0 && !(depth == 0 && property.Name == Version)
                && !SameValue(property.GetValue(a), property.GetValue(b), depth + 1))
            {
                return false;
            }
        }

        return true;
    }
}
