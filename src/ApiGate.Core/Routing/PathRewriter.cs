using System.Text;
using ApiGate.Core.Expressions;
using Jint;
using Jint.Native;

namespace ApiGate.Core.Routing;

/// <summary>
/// A route's <c>path_rewrite</c> compiled once per snapshot (SPEC §2.4): a <c>/</c>-template with <c>$n</c>,
/// <c>{name}</c> and <c>${var}</c>, or a JavaScript expression that yields the new path.
/// </summary>
public abstract class PathRewriter
{
    /// <summary>Said when a rewrite that is no template fails as an expression and looks like a template without its '/'.</summary>
    private protected const string TemplateHint = "a template, where $1 and {name} are captures, starts with '/'";

    /// <summary>Compiles a rewrite. Throws <see cref="ExpressionException"/> or <see cref="FormatException"/> when it is invalid.</summary>
    public static PathRewriter Compile(string rewrite) =>
        rewrite.StartsWith('/') ? TemplateRewriter.Parse(rewrite) : new ExpressionRewriter(ExpressionEngine.Compile(rewrite));

    /// <summary>Returns an error message when the rewrite does not compile, else null.</summary>
    public static string? Validate(string rewrite)
    {
        try
        {
            _ = Compile(rewrite);
            return null;
        }
        catch (Exception ex) when (ex is ExpressionException or FormatException)
        {
            return ex.Message;
        }
    }

    /// <summary>
    /// Returns an error message when the rewrite does not compile, or compiles but could not work on a route with this
    /// path pattern; else null. What is refused here is what every request would otherwise meet at run time: a template
    /// naming a capture the pattern does not make (<c>$9</c> or <c>{id}</c> would always be empty), an expression reading
    /// a name it does not have (<c>$2</c>, a template written without its leading <c>/</c>, is a JavaScript name that is
    /// not defined), and an expression whose result always starts with something other than <c>/</c>
    /// (<c>'users/' + pathParams.id</c>). When the path pattern is itself invalid its captures are not checked.
    /// </summary>
    public static string? Validate(string rewrite, string pathPattern, PathMatchType matchType)
    {
        PathRewriter rewriter;
        try
        {
            rewriter = Compile(rewrite);
        }
        catch (ExpressionException ex) when (rewrite.Contains('$') || rewrite.Contains('{'))
        {
            // `${user_id}` or `v2/{id}`: template syntax written without the '/' that makes it a template
            return ex.Message + "; " + TemplateHint;
        }
        catch (Exception ex) when (ex is ExpressionException or FormatException)
        {
            return ex.Message;
        }

        if (rewriter is ExpressionRewriter expression)
        {
            return expression.Problem();
        }

        var template = (TemplateRewriter)rewriter;
        return template.VariableProblem() ?? (PathPatterns.Validate(pathPattern, matchType) is null
            ? template.CaptureProblem(pathPattern, PathPatterns.Captures(pathPattern, matchType))
            : null);
    }

    /// <summary>
    /// The new path, decoded. Throws <see cref="RewriteException"/> when the result is not a safe absolute path.
    /// </summary>
    public string Rewrite(in RouteMatch match, IRewriteRequest request) => Rewrite(match, request, null, out _);

    /// <summary>
    /// The new path, decoded, and in <paramref name="wire"/> as it goes on the request line: escapes are kept as they were
    /// written — a capture as the client spelled it in <paramref name="rawPath"/> (the request path as sent, null when
    /// that is the matched path itself), the template's text and an expression's result as the operator wrote them — and
    /// only what a path cannot hold literally is escaped. Throws <see cref="RewriteException"/> when the result is not a
    /// safe absolute path.
    /// </summary>
    public string Rewrite(in RouteMatch match, IRewriteRequest request, string? rawPath, out string wire)
    {
        wire = Produce(match, request, rawPath);
        var problem = CheckPath(wire, out var decoded);
        return problem is null ? decoded : throw new RewriteException(problem) { FromRequestValues = this is TemplateRewriter { LiteralIsPath: true } };
    }

    /// <summary>The result in its wire form (<see cref="RequestPaths.EncodeKeepingEscapes"/>).</summary>
    private protected abstract string Produce(in RouteMatch match, IRewriteRequest request, string? rawPath);

    /// <summary>Null when <paramref name="path"/> is an absolute path that stays inside the upstream's base; else why not.</summary>
    public static string? CheckPath(string path) => CheckPath(path, out _);

    /// <summary>
    /// The rewrite result is held to the rule for client paths (<see cref="RequestPaths"/>): percent escapes in it are
    /// decoded once, and no dot segment, encoded slash, backslash, control character or second encoding may remain.
    /// </summary>
    private static string? CheckPath(string path, out string decoded)
    {
        decoded = "";
        if (path.Length == 0 || path[0] != '/')
        {
            return "rewritten path must start with '/'";
        }

        if (path.AsSpan().IndexOfAny('?', '#') >= 0)
        {
            return "rewritten path contains a character not allowed in a path";
        }

        return RequestPaths.TryDecodeProduced(path, out decoded) is { } problem ? "rewritten path refused: " + problem : null;
    }
}

/// <summary>A rewrite result that must not be forwarded.</summary>
public sealed class RewriteException(string message) : Exception(message)
{
    /// <summary>
    /// True when only the request's own values can have made the result unusable: a template's literal parts are checked
    /// when it is written, so a template result refused at run time holds something the client sent (a capture, a query
    /// or header value) — the client's error, not the route's.
    /// </summary>
    public bool FromRequestValues { get; init; }
}

internal sealed class TemplateRewriter : PathRewriter
{
    private readonly Part[] _parts;

    private TemplateRewriter(Part[] parts)
    {
        _parts = parts;
        LiteralIsPath = !Array.Exists(parts, p => p.Kind == PartKind.Literal && p.Text.AsSpan().IndexOfAny('?', '#') >= 0);
    }

    /// <summary>
    /// False when the template's own text holds a '?' or '#' (refused when written since, but possibly stored before):
    /// then every result is refused, and that is the route's fault, not the request's (substituted values escape both).
    /// </summary>
    public bool LiteralIsPath { get; }

    public static TemplateRewriter Parse(string template)
    {
        var parts = new List<Part>();
        var literal = new StringBuilder();
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c == '$' && i + 1 < template.Length && char.IsAsciiDigit(template[i + 1]))
            {
                var end = i + 1;
                while (end < template.Length && char.IsAsciiDigit(template[end]))
                {
                    end++;
                }

                // A number past int's range is no group of any pattern: refused when written, empty if stored before that
                // (it threw an OverflowException on every request).
                if (!int.TryParse(template.AsSpan(i + 1, end - i - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
                {
                    number = -1;
                }

                Flush();
                parts.Add(new Part(PartKind.Numbered, template[i..end], number));
                i = end - 1;
            }
            else if (c == '$' && i + 1 < template.Length && template[i + 1] == '{')
            {
                var close = template.IndexOf('}', i + 2);
                if (close < 0)
                {
                    throw new FormatException($"unterminated '${{' at position {i} in rewrite template");
                }

                var name = template[(i + 2)..close];
                if (name.Length == 0)
                {
                    throw new FormatException("empty '${}' in rewrite template");
                }

                Flush();
                parts.Add(new Part(PartKind.Variable, name));
                i = close;
            }
            else if (c == '{')
            {
                var close = template.IndexOf('}', i + 1);
                var name = close > i ? template[(i + 1)..close] : "";
                if (name.Length == 0 || !IsIdentifier(name))
                {
                    throw new FormatException($"invalid '{{name}}' capture at position {i} in rewrite template");
                }

                Flush();
                parts.Add(new Part(PartKind.Named, name));
                i = close;
            }
            else
            {
                literal.Append(c);
            }
        }

        Flush();
        return new TemplateRewriter([.. parts]);

        void Flush()
        {
            if (literal.Length > 0)
            {
                parts.Add(new Part(PartKind.Literal, literal.ToString()));
                literal.Clear();
            }
        }
    }

    private protected override string Produce(in RouteMatch match, IRewriteRequest request, string? rawPath)
    {
        if (_parts.Length == 1 && _parts[0].Kind == PartKind.Literal)
        {
            return _parts[0].Wire;
        }

        var builder = new StringBuilder();
        foreach (var part in _parts)
        {
            var start = -1;
            var value = part.Kind switch
            {
                PartKind.Literal => null,
                PartKind.Numbered => part.Number > 0 ? match.GetNumbered(part.Number, out start) : "",
                PartKind.Named => match.GetNamed(part.Text, out start) ?? "",
                _ => request.GetVariable(part.Text) ?? "",
            };
            if (value is null)
            {
                builder.Append(part.Wire); // the operator's text: its percent escapes are decoded once upstream, as written
            }
            else if (start >= 0 && rawPath is not null && RequestPaths.RawRange(rawPath, start, value.Length) is { } spelled)
            {
                builder.Append(rawPath.AsSpan()[spelled]); // a capture as the client spelled it: %3B stays %3B
            }
            else
            {
                // Decoded text (a capture of a path sent without escapes, a query or header value): escaped whole, '%', '?'
                // and '#' included, so one decode upstream gives the value back instead of decoding what the client sent
                // a second time (a captured %41 must not become A).
                builder.Append(RequestPaths.Encode(value));
            }
        }

        return builder.ToString();
    }

    /// <summary>The <c>${…}</c> variables a template may use (docs/routing.md, Path rewriting); <c>header.</c>, <c>query.</c> and <c>env.</c> take a name.</summary>
    private static readonly string[] Variables =
        ["uuid", "timestamp", "iso_time", "client_ip", "request_id", "path", "method", "host", "user_id", "user_email", "plan_id", "plan_name", "api_key_id", "api_key_prefix"];

    private static readonly string[] NamedVariables = ["header.", "query.", "env."];

    /// <summary>
    /// Null when every <c>${…}</c> of the template is a variable the gateway fills; else which is not. An unknown one
    /// (<c>${user}</c>, <c>${query}</c>, a misspelling) would be empty on every request, sending them all to one path.
    /// </summary>
    public string? VariableProblem()
    {
        foreach (var part in _parts)
        {
            if (part.Kind == PartKind.Variable && !Variables.Contains(part.Text)
                && !Array.Exists(NamedVariables, prefix => part.Text.Length > prefix.Length && part.Text.StartsWith(prefix, StringComparison.Ordinal)))
            {
                return $"the template uses ${{{part.Text}}}, which is no variable: a path rewrite has ${{{string.Join("}, ${", Variables)}}}, "
                    + "${header.NAME}, ${query.NAME} and ${env.NAME}; unknown ones would be empty on every request";
            }
        }

        return null;
    }

    /// <summary>Null when every <c>$n</c> and <c>{name}</c> of the template is a capture of the path pattern; else which is not.</summary>
    public string? CaptureProblem(string pathPattern, PathCaptures captures)
    {
        foreach (var part in _parts)
        {
            var missing = part.Kind switch
            {
                PartKind.Numbered => !captures.Numbered.Contains(part.Number),
                PartKind.Named => !captures.Named.Contains(part.Text),
                _ => false,
            };
            if (missing)
            {
                var written = part.Kind == PartKind.Named ? "{" + part.Text + "}" : part.Text;
                return $"the template uses {written}, which the path pattern '{pathPattern}' does not capture ({captures.Describe()})";
            }
        }

        return null;
    }

    private static bool IsIdentifier(string name)
    {
        if (!(char.IsAsciiLetter(name[0]) || name[0] == '_'))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                return false;
            }
        }

        return true;
    }

    private enum PartKind
    {
        Literal,
        Numbered,
        Named,
        Variable,
    }

    private readonly record struct Part(PartKind Kind, string Text, int Number = 0)
    {
        /// <summary>A literal's text as it goes on the wire (<see cref="RequestPaths.EncodeKeepingEscapes"/>), made once.</summary>
        public string Wire { get; } = Kind == PartKind.Literal ? RequestPaths.EncodeKeepingEscapes(Text) : "";
    }
}

internal sealed class ExpressionRewriter(CompiledExpression expression) : PathRewriter
{
    /// <summary>The context a path rewrite expression can read (<see cref="ExpressionEngine.ContextNames"/> holds metering's too).</summary>
    internal static readonly string[] ContextNames = ["path", "method", "host", "pathParams", "query", "headers", "user", "key", "plan"];

    /// <summary>Null when the expression can produce a path; else why every evaluation would fail (see <see cref="PathRewriter.Validate(string, string, PathMatchType)"/>).</summary>
    public string? Problem()
    {
        if (ExpressionEngine.FirstUnavailableName(expression, ContextNames) is { } name)
        {
            return $"the expression reads '{name}', which a path rewrite does not have (it can read {string.Join(", ", ContextNames)} and JavaScript's built-ins); "
                + TemplateHint;
        }

        return LeadingText(expression.Source) is { Length: > 0 } start && start[0] != '/'
            ? $"the expression always yields a path starting with '{start}', and a rewritten path must start with '/'"
            : null;
    }

    /// <summary>
    /// The text every result of the expression starts with, when its leftmost operand is a string: a string literal or a
    /// template literal, alone or on the left of a chain of '+' (a string plus anything is a string that begins with it).
    /// Null when the start is not known.
    /// </summary>
    private static string? LeadingText(string source)
    {
        var program = new Acornima.Parser().ParseScript(source);
        if (program.Body is not [Acornima.Ast.ExpressionStatement { Expression: var node }])
        {
            return null;
        }

        while (node is Acornima.Ast.BinaryExpression { Operator: Acornima.Operator.Addition } sum)
        {
            node = sum.Left;
        }

        return node switch
        {
            Acornima.Ast.StringLiteral literal => literal.Value,
            Acornima.Ast.TemplateLiteral template => template.Quasis[0].Value.Cooked,
            _ => null,
        };
    }

    private protected override string Produce(in RouteMatch match, IRewriteRequest request, string? rawPath)
    {
        var sandbox = ExpressionEngine.CurrentSandbox;
        var engine = sandbox.Engine;
        // Own data properties, not Set: a client's ?toString=1 or a header named __proto__ would otherwise meet the
        // frozen Object.prototype's member of that name, and the value would be dropped (or the setter run) unseen.
        if (expression.Reads("pathParams"))
        {
            var pathParams = new JsObject(engine);
            foreach (var (name, value) in match.NamedCaptures())
            {
                pathParams.CreateDataProperty(name, value);
            }

            sandbox.Set("pathParams", pathParams);
        }

        if (expression.Reads("headers"))
        {
            var headers = new JsObject(engine);
            foreach (var (name, value) in request.Headers())
            {
                headers.CreateDataProperty(name, value);
            }

            sandbox.Set("headers", headers);
        }

        if (expression.Reads("query"))
        {
            var query = new JsObject(engine);
            foreach (var (name, value) in request.Query())
            {
                query.CreateDataProperty(name, value);
            }

            sandbox.Set("query", query);
        }

        // Only what the expression reads is built; the rest stays undefined (the sandbox clears every value after use).
        SetIfRead(sandbox, "path", request.Path);
        SetIfRead(sandbox, "method", request.Method);
        SetIfRead(sandbox, "host", request.Host);
        foreach (var kind in IdentityKinds)
        {
            if (expression.Reads(kind))
            {
                sandbox.Set(kind, ToJs(engine, request.Identity(kind)));
            }
        }

        JsValue result;
        try
        {
            result = sandbox.Evaluate(expression);
        }
        catch (ExpressionException ex)
        {
            throw new RewriteException(ex.Message);
        }

        return result.IsString() ? RequestPaths.EncodeKeepingEscapes(result.AsString()) : throw new RewriteException("path rewrite expression did not return a string");
    }

    private static readonly string[] IdentityKinds = ["user", "key", "plan"];

    private void SetIfRead(ExpressionSandbox sandbox, string name, string value)
    {
        if (expression.Reads(name))
        {
            sandbox.Set(name, value);
        }
    }

    private static JsValue ToJs(Jint.Engine engine, IReadOnlyDictionary<string, string>? values)
    {
        if (values is null)
        {
            return JsValue.Null;
        }

        var obj = new JsObject(engine);
        foreach (var (name, value) in values)
        {
            obj.CreateDataProperty(name, value);
        }

        return obj;
    }
}
