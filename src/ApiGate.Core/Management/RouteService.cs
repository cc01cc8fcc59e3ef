using ApiGate.Core.Expressions;
using ApiGate.Core.Routing;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>
/// The one place where routes are validated and written (the CLI and the admin API call it); a refused change
/// returns an error naming the field and writes nothing.
/// </summary>
public sealed class RouteService(IGatewayStore store, TimeProvider timeProvider, ConflictBackOff? conflictBackOff = null)
{
    private readonly ConflictBackOff _conflictBackOff = conflictBackOff ?? ConflictBackOff.Default;

    private volatile ListedRoutes? _listed;

    /// <summary>
    /// Every route as stored. The list read last is kept with the store's content token read before it (the token the
    /// database draws anew on every change to the tables routes are read from, whoever writes them) and given again while
    /// the token is the same: on a config of 10,000 routes each page of the admin API's or the console's list read and
    /// converted every row, 0.1–0.3 s a page. The token is read first, so a list read across a change is kept under the
    /// token before that change and read again at the next call.
    /// </summary>
    public async Task<IReadOnlyList<RouteDefinition>> ListAsync(CancellationToken cancellationToken)
    {
        var token = (await store.GetVersionsAsync(cancellationToken)).ContentToken;
        if (_listed is { } listed && listed.ContentToken == token)
        {
            return listed.Routes;
        }

        RouteDefinition[] routes = [.. await store.ListRoutesAsync(cancellationToken)]; // shared from now on: not a list a caller could change
        _listed = new ListedRoutes(token, routes);
        return routes;
    }

    private sealed record ListedRoutes(long ContentToken, IReadOnlyList<RouteDefinition> Routes);

    public async Task<ManagementResult<RouteDefinition>> GetAsync(string idOrSlug, CancellationToken cancellationToken) =>
        await store.FindRouteAsync(idOrSlug, cancellationToken) is { } route ? route : NotFound("route", idOrSlug);

    public async Task<ManagementResult<RouteDefinition>> CreateAsync(RouteChanges input, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(input.Path))
        {
            return Invalid("path", "path is required");
        }

        var now = timeProvider.GetUtcNow();
        var name = string.IsNullOrWhiteSpace(input.Name) ? DefaultRouteName(input) : input.Name;
        var draft = new RouteDefinition
        {
            Id = Ids.New("rt"),
            Name = "",
            Slug = "",
            PathPattern = "",
            CreatedAt = now,
            UpdatedAt = now,
        };
        var built = await ApplyRouteAsync(draft, input with { Name = name }, cancellationToken);
        if (built.Error is not null)
        {
            return built.Error;
        }

        return await NamedAsync(await WriteAsync(built.Value!, store.CreateRouteAsync, cancellationToken), built.Value!, cancellationToken);
    }

    public Task<ManagementResult<RouteDefinition>> UpdateAsync(string idOrSlug, RouteChanges input, CancellationToken cancellationToken) =>
        UpdateAsync(idOrSlug, input, null, cancellationToken);

    /// <summary>Applies <paramref name="input"/> while <paramref name="condition"/> (when given) holds for the row as stored.</summary>
    public Task<ManagementResult<RouteDefinition>> UpdateAsync(string idOrSlug, RouteChanges input, RowCondition? condition, CancellationToken cancellationToken) =>
        RetryWhenChangedAsync(async () =>
        {
            var existing = await store.FindRouteAsync(idOrSlug, cancellationToken);
            if (existing is null)
            {
                return NotFound("route", idOrSlug);
            }

            if (condition?.Refuse("route", idOrSlug, existing.UpdatedAt) is { } stale)
            {
                return stale;
            }

            var built = await ApplyRouteAsync(existing with { UpdatedAt = Storage.RowVersion.ChangedAt(timeProvider, existing.UpdatedAt) }, input, cancellationToken);
            if (built.Error is not null)
            {
                return built.Error;
            }

            if (Unchanged.Same(existing, built.Value!))
            {
                return existing;
            }

            return await NamedAsync(
                await WriteAsync(built.Value!, (route, ct) => store.UpdateRouteAsync(route, existing.UpdatedAt, ct), cancellationToken), built.Value!, cancellationToken);
        }, _conflictBackOff, cancellationToken);

    private Task<ManagementResult<RouteDefinition>> NamedAsync(ManagementResult<RouteDefinition> written, RouteDefinition route, CancellationToken cancellationToken) =>
        SlugTakenAsync(written, "route", route.Name, route.Slug, async slug => (await store.FindRouteAsync(slug, cancellationToken))?.Name);

    /// <summary>Deletes it; the same delete sent twice at once answers not found to the second (<see cref="Outcomes.DeleteFoundAsync"/>).</summary>
    public Task<ManagementResult<RouteDefinition>> DeleteAsync(string idOrSlug, CancellationToken cancellationToken) =>
        DeleteAsync(idOrSlug, null, cancellationToken);

    /// <summary>Deletes it while <paramref name="condition"/> (when given) holds for the row as read.</summary>
    public Task<ManagementResult<RouteDefinition>> DeleteAsync(string idOrSlug, RowCondition? condition, CancellationToken cancellationToken) =>
        DeleteFoundAsync("route", idOrSlug, ct => store.FindRouteAsync(idOrSlug, ct), x => x.UpdatedAt, condition, (r, readAt, ct) => store.DeleteRouteAsync(r.Id, readAt, ct), cancellationToken);

    /// <summary>
    /// The route's lists a write holds to <see cref="TextFields.MaxListEntries"/> entries (<see cref="Validate"/>), by
    /// field, with the number of entries each has.
    /// </summary>
    public static IEnumerable<(string Field, int Count)> BoundedLists(RouteDefinition route) =>
    [
        ("headers", route.Headers.Count), ("cors_origins", route.CorsOrigins.Count),
        ("cors_headers", route.CorsHeaders.Count), ("cors_expose_headers", route.CorsExposeHeaders.Count),
    ];

    /// <summary>
    /// Static checks of one route definition (everything but references), as "field: message". With
    /// <paramref name="stored"/>, the route as stored before this change: a route stored before a bound on its lists
    /// (<see cref="TextFields.MaxListEntries"/>) or the write-time checks of its transforms existed can still be changed —
    /// a list may keep as many entries as it had, a transform sent back unchanged is not checked again, and header
    /// conditions whose names differ only in case are kept as stored — so it loads,
    /// is served, and can be brought within them step by step; only a change that grows past a bound is refused.
    /// </summary>
    public static IEnumerable<ManagementError> Validate(RouteDefinition route, RouteDefinition? stored = null)
    {
        if (route.Slug.Length == 0)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "name", "must contain at least one ASCII letter or digit (the id in URLs and the CLI is made from them)");
        }

        if (TextFields.Check(("name", route.Name), ("description", route.Description), ("path", route.PathPattern), ("host_pattern", route.HostPattern), ("path_rewrite", route.PathRewrite)) is { } textProblem)
        {
            yield return textProblem;
        }

        if (PathPatterns.Validate(route.PathPattern, route.MatchType) is { } pathProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "path", pathProblem);
        }
        else if (ReservedPaths.Covers(route.PathPattern, route.MatchType))
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "path",
                $"'{route.PathPattern}' is answered by the gateway itself ({ReservedPaths.Listed}); a route there would never be reached");
        }

        if (HostPattern.Validate(route.HostPattern, route.HostMatchType) is { } hostProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "host_pattern", hostProblem);
        }

        foreach (var method in route.Methods)
        {
            if (RouteMethods.Validate(method) is { } methodProblem)
            {
                yield return new ManagementError(ManagementErrorKind.Validation, "methods", methodProblem);
                break;
            }
        }

        if (TextFields.CheckCount("headers", route.Headers.Count, stored?.Headers.Count ?? 0) is { } headerCountProblem)
        {
            yield return headerCountProblem;
        }
        else if (HeaderGivenTwice(route.Headers, stored?.Headers) is { } twice)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "headers", GivenTwice(twice));
        }
        else
        {
            foreach (var (name, value) in route.Headers)
            {
                if (!HttpTokens.IsToken(name))
                {
                    yield return new ManagementError(ManagementErrorKind.Validation, "headers", $"'{name}' is not a valid header name");
                    break;
                }

                if (name.Length > TextFields.MaxNameLength)
                {
                    yield return new ManagementError(ManagementErrorKind.Validation, "headers", $"a header name is longer than {TextFields.MaxNameLength} characters");
                    break;
                }

                if (TextFields.Check("headers", value) is { } headerProblem)
                {
                    yield return headerProblem;
                    break;
                }

                // HTTP trims a header value's outer spaces and tabs before anyone reads it, so such a value never matches
                // (one stored before this check is kept, so the route's other fields can still be changed).
                if (value.Length > 0 && (value[0] is ' ' or '\t' || value[^1] is ' ' or '\t')
                    && !(stored is not null && stored.Headers.TryGetValue(name, out var was) && was == value))
                {
                    yield return new ManagementError(ManagementErrorKind.Validation, "headers",
                        $"the value required of '{name}' starts or ends with a space, which a request's header value never does (HTTP trims them): leave them out");
                    break;
                }
            }
        }

        if (route.PathRewrite.Length > 0 && (PathRewriter.Validate(route.PathRewrite, route.PathPattern, route.MatchType) ?? RewriteSegments.Validate(route.PathRewrite)) is { } rewriteProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "path_rewrite", rewriteProblem);
        }

        if (route.MethodOverride.Length > 0 && RouteMethods.Validate(route.MethodOverride) is { } overrideProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "method_override", overrideProblem);
        }

        if (route.RequestTransform.Length > 0 && route.RequestTransform != stored?.RequestTransform
            && TransformProblem(() => WriteRuleBreaches(Transforms.RequestTransform.Parse(route.RequestTransform, TextFields.MaxListEntries))) is { } requestProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "request_transform", requestProblem);
        }

        if (route.ResponseTransform.Length > 0 && route.ResponseTransform != stored?.ResponseTransform
            && TransformProblem(() => WriteRuleBreaches(Transforms.ResponseTransform.Parse(route.ResponseTransform))) is { } responseProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "response_transform", responseProblem);
        }

        if (route.MeteringExpr.Length > TextFields.MaxLength)
        {
            // The bound of path_rewrite, the other expression: without it a megabyte of expression was accepted, stored
            // and compiled again with every config snapshot.
            yield return new ManagementError(ManagementErrorKind.Validation, "metering_expr",
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"is longer than {TextFields.MaxLength} characters"));
        }
        else if (route.MeteringExpr.IndexOf('\0', StringComparison.Ordinal) is var nul and >= 0)
        {
            // Checked whatever the mode: request and bytes ignore the expression but it is stored all the same, and
            // PostgreSQL cannot store a NUL (the write failed as 503 store_unavailable; SQLite kept it).
            yield return new ManagementError(ManagementErrorKind.Validation, "metering_expr",
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"must not contain NUL (U+0000 at position {nul + 1})"));
        }
        else if (Metering.MeteringRule.Validate(route.MeteringMode, route.MeteringExpr) is { } meteringProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "metering_expr", meteringProblem);
        }

        if (CorsRules.Validate(route, stored) is { } corsProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, corsProblem.Field, corsProblem.Message);
        }
    }

    /// <summary>
    /// <paramref name="input"/> applied to <paramref name="r"/> (the route as stored, or a blank one for a create) and
    /// checked; the route as stored bounds what a list may keep (<see cref="Validate"/>).
    /// </summary>
    private async Task<ManagementResult<RouteDefinition>> ApplyRouteAsync(RouteDefinition r, RouteChanges input, CancellationToken cancellationToken)
    {
        var stored = r;
        if (input.Name is not null)
        {
            var name = input.Name.Trim();
            r = r with { Name = name, Slug = Slug.From(name) };
            if ((TextFields.CheckInvisible("name", name, stored.Name) ?? TextFields.CheckName("name", r.Name) ?? TextFields.SlugTooLong(r.Slug)) is { } nameProblem)
            {
                return nameProblem;
            }
        }

        if (input.Description is not null)
        {
            r = r with { Description = input.Description };
        }

        if (input.MatchType is { } matchType)
        {
            r = r with { MatchType = matchType };
        }

        if (input.Path is not null)
        {
            r = r with { PathPattern = input.Path.Trim() };
        }

        if (input.HostMatchType is { } hostType)
        {
            r = r with { HostMatchType = hostType };
        }

        if (input.HostPattern is not null)
        {
            var pattern = input.HostPattern.Trim();
            var type = input.HostMatchType ?? HostPattern.InferType(pattern);
            r = r with { HostPattern = HostPattern.Canonicalize(pattern, type), HostMatchType = type };
        }

        if (input.Methods is { } methods)
        {
            r = r with { Methods = methods };
        }

        if (input.Headers is { } headers)
        {
            r = r with { Headers = HeaderConditions(headers) };
        }

        if (input.Upstream.HasValue)
        {
            if (input.Upstream.Value is not { } reference)
            {
                r = r with { UpstreamId = null };
            }
            else
            {
                var upstream = await store.FindUpstreamAsync(reference, cancellationToken);
                if (upstream is null)
                {
                    return Invalid("upstream", $"unknown upstream '{reference}'");
                }

                r = r with { UpstreamId = upstream.Id };
            }
        }

        if (input.PathRewrite is not null)
        {
            r = r with { PathRewrite = input.PathRewrite.Trim() };
        }

        if (input.MethodOverride is not null)
        {
            r = r with { MethodOverride = input.MethodOverride.Trim().ToUpperInvariant() };
        }

        if (input.RequestTransform is not null)
        {
            r = r with { RequestTransform = StoredUnlessChanged(input.RequestTransform.Trim(), stored.RequestTransform) };
        }

        if (input.ResponseTransform is not null)
        {
            r = r with { ResponseTransform = StoredUnlessChanged(input.ResponseTransform.Trim(), stored.ResponseTransform) };
        }

        if (input.Protocol is { } protocol)
        {
            r = r with { Protocol = protocol };
        }

        if (input.MeteringMode is { } mode)
        {
            r = r with { MeteringMode = mode };
        }

        if (input.MeteringExpr is not null)
        {
            r = r with { MeteringExpr = input.MeteringExpr.Trim() };
        }

        if (input.AuthRequired is { } auth)
        {
            r = r with { AuthRequired = auth };
        }

        if (input.AuthScheme is { } scheme)
        {
            r = r with { AuthScheme = scheme };
        }

        if (input.CorsOrigins is { } origins)
        {
            // Refused before any is parsed: each is canonicalised (IDN, addresses, the public suffix list).
            if (TextFields.CheckCount("cors_origins", origins.Count, stored.CorsOrigins.Count) is { } countProblem)
            {
                return countProblem;
            }

            var canonical = new List<string>(origins.Count);
            var seen = new HashSet<string>(origins.Count, StringComparer.Ordinal);
            foreach (var origin in origins)
            {
                if (Cors.CorsOrigins.Canonicalize(origin, out var problem) is not { } value)
                {
                    return Invalid("cors_origins", problem!);
                }

                if (seen.Add(value))
                {
                    canonical.Add(value);
                }
            }

            // No origin turns CORS off: the other CORS settings go with it rather than linger unused.
            r = canonical.Count > 0
                ? r with { CorsOrigins = canonical }
                : r with { CorsOrigins = [], CorsMethods = [], CorsHeaders = [], CorsExposeHeaders = [], CorsCredentials = false, CorsMaxAge = 0 };
        }

        if (input.CorsMethods is { } corsMethods)
        {
            r = r with { CorsMethods = corsMethods };
        }

        if (input.CorsHeaders is { } corsHeaders)
        {
            r = r with { CorsHeaders = corsHeaders };
        }

        if (input.CorsExposeHeaders is { } exposeHeaders)
        {
            r = r with { CorsExposeHeaders = exposeHeaders };
        }

        if (input.CorsCredentials is { } credentials)
        {
            r = r with { CorsCredentials = credentials };
        }

        if (input.CorsMaxAge is { } maxAge)
        {
            r = r with { CorsMaxAge = maxAge };
        }

        if (input.Priority is { } priority)
        {
            r = r with { Priority = priority };
        }

        if (input.Enabled is { } enabled)
        {
            r = r with { Enabled = enabled };
        }

        foreach (var error in Validate(r, stored))
        {
            return error;
        }

        return r;
    }

    /// <summary>
    /// The refusal of a header condition whose name another one has, in any case; with <paramref name="storedBeforeTheRule"/>,
    /// the warning about a route stored so before the rule (<c>config validate</c>).
    /// </summary>
    internal static string GivenTwice(string name, bool storedBeforeTheRule = false) =>
        $"header '{name}' is given twice" + (storedBeforeTheRule ? "; header names ignore case, stored before that rule" : " (header names ignore case)");

    /// <summary>
    /// Conditions keyed ignoring case, as the matcher compares them; when two names differ only in case (a route stored
    /// so, sent back), keyed as sent so both are kept for <see cref="Validate"/> to judge.
    /// </summary>
    private static Dictionary<string, string> HeaderConditions(IReadOnlyDictionary<string, string> headers)
    {
        var conditions = new Dictionary<string, string>(headers.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers)
        {
            if (!conditions.TryAdd(name, value))
            {
                return new Dictionary<string, string>(headers, StringComparer.Ordinal);
            }
        }

        return conditions;
    }

    /// <summary>
    /// The first condition whose name another one has, ignoring case (x-tier and X-Tier are one header: the request must
    /// carry both values) — unless the route as stored holds that very condition: a route stored so (written to the
    /// store by an earlier build or by hand) stays editable with its conditions sent back unchanged, and can be brought
    /// down to one of them, while no write adds such a condition.
    /// </summary>
    internal static string? HeaderGivenTwice(IReadOnlyDictionary<string, string> headers, IReadOnlyDictionary<string, string>? stored)
    {
        var names = headers.Keys.CountBy(name => name, StringComparer.OrdinalIgnoreCase).ToDictionary(StringComparer.OrdinalIgnoreCase);
        if (names.Count == headers.Count)
        {
            return null;
        }

        // The last as sent (the one that repeats a name); compared by exact name and value: the stored map may ignore case.
        return headers.LastOrDefault(h => names[h.Key] > 1 && stored?.Any(s => s.Key == h.Key && s.Value == h.Value) != true).Key;
    }

    /// <summary>
    /// The <paramref name="stored"/> transform when <paramref name="sent"/> differs from it only in its line breaks (a
    /// browser sends a textarea's back as CR LF; outside strings, where JSON allows no raw line break, they are white
    /// space): it is the transform sent back unchanged, so it keeps its text and is not checked again (<see cref="Validate"/>).
    /// </summary>
    private static string StoredUnlessChanged(string sent, string stored) =>
        sent != stored && sent.Replace("\r\n", "\n", StringComparison.Ordinal) == stored.Replace("\r\n", "\n", StringComparison.Ordinal) ? stored : sent;

    private static string DefaultRouteName(RouteChanges input)
    {
        // `routes create --path "/users/*" --upstream users-api` without a name (the user's page does this).
        var basis = (input.HostPattern ?? "") + " " + (input.Path ?? "");
        var slug = Slug.From(basis);
        return slug.Length == 0 ? "root" : slug.Length > TextFields.MaxNameLength ? slug[..TextFields.MaxNameLength].TrimEnd('-') : slug;
    }

    /// <summary>
    /// A stored route's transforms as the gateway compiles them (<paramref name="route"/> as loaded), for
    /// <c>config validate</c>: per transform, either why it does not compile (<c>Served</c> null: the config holding it
    /// does not load), or each rule a write holds it to that it breaks (<see cref="Validate"/>; a route stored before the
    /// rule), with what the gateway does with it instead (<c>Served</c>). Empty when both are as a write would have them.
    /// </summary>
    public static IEnumerable<(string Field, string Message, string? Served)> CheckStoredTransforms(RouteDefinition route) =>
    [
        .. CheckStored("request_transform", route.RequestTransform, t => WriteRuleBreaches(Transforms.RequestTransform.Parse(t))),
        .. CheckStored("response_transform", route.ResponseTransform, t => WriteRuleBreaches(Transforms.ResponseTransform.Parse(t))),
    ];

    private static IEnumerable<(string Field, string Message, string? Served)> CheckStored(
        string field, string transform, Func<string, List<(string Breach, string Served)>> compile)
    {
        if (transform.Length == 0)
        {
            return [];
        }

        try
        {
            return compile(transform).Select(b => (field, b.Breach, (string?)b.Served));
        }
        catch (FormatException ex)
        {
            return [(field, ex.Message, null)];
        }
    }

    /// <summary>
    /// The rules a transform is held to when it is written and not when it is compiled (a route stored before them still
    /// compiles and is served), each it breaks with what the gateway does with it: more than
    /// <see cref="TextFields.MaxListEntries"/> conditions, operations in a block or paths in a body list, an operation on
    /// the body's framing (<see cref="Transforms.FramingHeaders"/>), an add or set of a hop-by-hop header
    /// (<see cref="Transforms.HopByHopHeaders"/>), a header set twice, a header value with a control
    /// character (<see cref="Transforms.HeaderValueCharacters"/>), an add or set of an identity header under any spelling
    /// (<see cref="Transforms.IdentityHeaderNames"/>).
    /// </summary>
    private static List<(string Breach, string Served)> WriteRuleBreaches(Transforms.RequestTransform transform)
    {
        var breaches = new List<(string, string)>();
        TooMany(breaches, "request_transform.conditions", transform.Conditions.Count, "entries");
        foreach (var (operations, field) in transform.Conditions.Select((c, i) => (c.Operations, $"request_transform.conditions[{i}]")).Prepend((transform.Always, "request_transform")))
        {
            AtWrite(breaches, field + ".headers", operations.Headers);
            if (Transforms.IdentityHeaderNames.ProblemIn(field + ".headers", operations.Headers) is { } identity)
            {
                breaches.Add((identity, "the gateway leaves that operation out"));
            }

            TooMany(breaches, field + ".query", operations.Query);
            TooMany(breaches, field + ".body.json.remove", operations.RemovePaths.Count);
        }

        return breaches;
    }

    private static List<(string Breach, string Served)> WriteRuleBreaches(Transforms.ResponseTransform transform)
    {
        var breaches = new List<(string, string)>();
        AtWrite(breaches, "response_transform.headers", transform.Headers, response: true);
        TooMany(breaches, "response_transform.body.remove", transform.RemovePaths.Count);
        TooMany(breaches, "response_transform.body.rename", transform.Renames.Count);
        TooMany(breaches, "response_transform.body.mask", transform.MaskPaths.Count);
        return breaches;
    }

    // What the snapshot tolerates in a route stored before these checks (it leaves a framing or hop-by-hop field or a value
    // with a control character out, and the last of two set members differing in case wins) but a new write may not hold.
    private static void AtWrite(List<(string, string)> breaches, string field, Transforms.NameValueOperations headers, bool response = false)
    {
        TooMany(breaches, field, headers);
        if (Transforms.FramingHeaders.ProblemIn(field, headers) is { } framing)
        {
            breaches.Add((framing, "the gateway leaves that operation out"));
        }

        if (Transforms.HopByHopHeaders.ProblemIn(field, headers) is { } hopByHop)
        {
            breaches.Add((hopByHop, "the gateway leaves that operation out"));
        }

        if (headers.HeaderSetTwice(field) is { } setTwice)
        {
            breaches.Add((setTwice, "the gateway sets the header to the later value"));
        }

        if (Transforms.HeaderValueCharacters.ProblemIn(field, headers, response) is { } control)
        {
            breaches.Add((control, "the gateway leaves that operation out"));
        }
    }

    // Every operation is applied to every request through the route; a 1 MiB body held tens of thousands.
    private static void TooMany(List<(string, string)> breaches, string field, Transforms.NameValueOperations operations) =>
        TooMany(breaches, field, operations.AddValues.Count + operations.SetValues.Count + operations.RemoveNames.Count);

    private static void TooMany(List<(string, string)> breaches, string field, int count, string what = "operations")
    {
        if (count > TextFields.MaxListEntries)
        {
            breaches.Add((field + " " + ListBound.Exceeded(count, TextFields.MaxListEntries, what), "the gateway applies every one"));
        }
    }

    /// <summary>The first rule <paramref name="check"/> finds broken, or why the transform does not parse; null when neither.</summary>
    private static string? TransformProblem(Func<List<(string Breach, string Served)>> check)
    {
        try
        {
            return check() is [var first, ..] ? first.Breach : null;
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }
    }
}
