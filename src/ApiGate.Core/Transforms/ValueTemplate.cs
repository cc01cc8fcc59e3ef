using System.Text;
using ApiGate.Core.Routing;

namespace ApiGate.Core.Transforms;

/// <summary>A header, query or JSON string value with <c>${var}</c> placeholders (SPEC §5.3), parsed once.</summary>
public sealed class ValueTemplate
{
    private readonly (bool IsVariable, string Text)[] _parts;

    private ValueTemplate(string source, (bool, string)[] parts)
    {
        Source = source;
        _parts = parts;
    }

    public string Source { get; }

    /// <summary>True when the value has no placeholders.</summary>
    public bool IsConstant => _parts.Length == 0 || (_parts.Length == 1 && !_parts[0].IsVariable);

    /// <summary>
    /// True when a placeholder reads text nothing checked for control characters before: a query parameter (percent-
    /// decoded, so <c>%0d%0a</c> is a CR LF) or an environment variable. Request headers, the path and the host are
    /// refused with a control character before any transform runs; the other variables are the gateway's own.
    /// </summary>
    public bool ReadsUncheckedText { get; private init; }

    public static ValueTemplate Parse(string source)
    {
        var parts = new List<(bool, string)>();
        var literal = new StringBuilder();
        for (var i = 0; i < source.Length; i++)
        {
            if (source[i] == '$' && i + 1 < source.Length && source[i + 1] == '{')
            {
                var close = source.IndexOf('}', i + 2);
                if (close < 0)
                {
                    throw new FormatException($"unterminated '${{' in '{source}'");
                }

                if (literal.Length > 0)
                {
                    parts.Add((false, literal.ToString()));
                    literal.Clear();
                }

                var name = source[(i + 2)..close].Trim();
                if (name.Length == 0)
                {
                    throw new FormatException($"empty '${{}}' in '{source}'");
                }

                parts.Add((true, name));
                i = close;
            }
            else
            {
                literal.Append(source[i]);
            }
        }

        if (literal.Length > 0)
        {
            parts.Add((false, literal.ToString()));
        }

        return new ValueTemplate(source, [.. parts])
        {
            ReadsUncheckedText = parts.Any(p => p.Item1 && (p.Item2.StartsWith("query.", StringComparison.Ordinal) || p.Item2.StartsWith("env.", StringComparison.Ordinal))),
        };
    }

    /// <summary>The value for this request; unknown or unset variables become empty strings.</summary>
    public string Render(IRewriteRequest request)
    {
        if (_parts.Length == 0)
        {
            return "";
        }

        if (_parts.Length == 1)
        {
            return _parts[0].IsVariable ? request.GetVariable(_parts[0].Text) ?? "" : _parts[0].Text;
        }

        var builder = new StringBuilder();
        foreach (var (isVariable, text) in _parts)
        {
            builder.Append(isVariable ? request.GetVariable(text) ?? "" : text);
        }

        return builder.ToString();
    }
}
