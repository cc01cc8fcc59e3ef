using System.Globalization;

namespace ApiGate.Core.Text;

/// <summary>
/// The wording of a list past its bound, owned here so a write's refusal and <c>config validate</c>'s warning about a
/// route stored before the bound say it alike.
/// </summary>
internal static class ListBound
{
    /// <summary>"has 101 entries; at most 100 are allowed" (<paramref name="what"/> names what is counted: entries, operations).</summary>
    public static string Exceeded(int count, int max, string what = "entries") =>
        string.Create(CultureInfo.InvariantCulture, $"has {count} {what}; at most {max} are allowed");
}
