using ApiGate.Core.Expressions;
using ApiGate.Core.Rewriting;
using ApiGate.Core.Routing;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using static ApiGate.Core.Management.Outcomes;
using ApiGate.Core.Upstreams;

namespace ApiGate.Core.Management;

/// <summary>
/// The one place where upstream and route changes are validated and written. The CLI (and the admin API) call it;
/// a refused change returns an error naming the field and writes nothing.
/// </summary>
public sealed class ConfigService(IGatewayStore store, TimeProvider timeProvider)
{
    public Task<IReadOnlyList<UpstreamDefinition>> ListUpstreamsAsync(CancellationToken cancellationToken) =>
        store.ListUpstreamsAsync(cancellationToken);

    public async Task<ManagementResult<UpstreamDefinition>> GetUpstreamAsync(string idOrSlug, CancellationToken cancellationToken) =>
        await store.FindUpstreamAsync(idOrSlug, cancellationToken) is { } upstream ? upstream : NotFound("upstream", idOrSlug);

    public async Task<ManagementResult<UpstreamDefinition>> CreateUpstreamAsync(UpstreamInput input, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var draft = new UpstreamDefinition
        {
            Id = Ids.New("up"),
            Name = "",
            Slug = "",
            BaseUrl = "",
            CreatedAt = now,
            UpdatedAt = now,
        };
        if (input.Name is null)
        {
            return Invalid("name", "name is required");
        }

        if (input.Url is null && input.Targets is null)
        {
            return Invalid("url", "url (or targets) is required");
        }

        var built = ApplyUpstream(draft, input);
        if (built.Error is not null)
        {
            return built.Error;
        }

        return await WriteAsync(built.Value!, store.CreateUpstreamAsync, cancellationToken);
    }

    public async Task<ManagementResult<UpstreamDefinition>> UpdateUpstreamAsync(string idOrSlug, UpstreamInput input, CancellationToken cancellationToken)
    {
        var existing = await store.FindUpstreamAsync(idOrSlug, cancellationToken);
        if (existing is null)
        {
            return NotFound("upstream", idOrSlug);
        }

        var built = ApplyUpstream(existing with { UpdatedAt = timeProvider.GetUtcNow() }, input);
        if (built.Error is not null)
        {
            return built.Error;
        }

        return await WriteAsync(built.Value!, store.UpdateUpstreamAsync, cancellationToken);
    }

    public async Task<ManagementResult<UpstreamDefinition>> DeleteUpstreamAsync(string idOrSlug, CancellationToken cancellationToken)
    {
        var existing = await store.FindUpstreamAsync(idOrSlug, cancellationToken);
        if (existing is null)
        {
            return NotFound("upstream", idOrSlug);
        }

        return await WriteAsync(existing, (u, ct) => store.DeleteUpstreamAsync(u.Id, ct), cancellationToken);
    }

    public Task<IReadOnlyList<RouteDefinition>> ListRoutesAsync(CancellationToken cancellationToken) =>
        store.ListRoutesAsync(cancellationToken);

    public async Task<ManagementResult<RouteDefinition>> GetRouteAsync(string idOrSlug, CancellationToken cancellationToken) =>
        await store.FindRouteAsync(idOrSlug, cancellationToken) is { } route ? route : NotFound("route", idOrSlug);

    public async Task<ManagementResult<RouteDefinition>> CreateRouteAsync(RouteInput input, CancellationToken cancellationToken)
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

        return await WriteAsync(built.Value!, store.CreateRouteAsync, cancellationToken);
    }

    public async Task<ManagementResult<RouteDefinition>> UpdateRouteAsync(string idOrSlug, RouteInput input, CancellationToken cancellationToken)
    {
        var existing = await store.FindRouteAsync(idOrSlug, cancellationToken);
        if (existing is null)
        {
            return NotFound("route", idOrSlug);
        }

        var built = await ApplyRouteAsync(existing with { UpdatedAt = timeProvider.GetUtcNow() }, input, cancellationToken);
        if (built.Error is not null)
        {
            return built.Error;
        }

        return await WriteAsync(built.Value!, store.UpdateRouteAsync, cancellationToken);
    }

    public async Task<ManagementResult<RouteDefinition>> DeleteRouteAsync(string idOrSlug, CancellationToken cancellationToken)
    {
        var existing = await store.FindRouteAsync(idOrSlug, cancellationToken);
        if (existing is null)
        {
            return NotFound("route", idOrSlug);
        }

        return await WriteAsync(existing, (r, ct) => store.DeleteRouteAsync(r.Id, ct), cancellationToken);
    }

    /// <summary>Checks every stored route and upstream compiles as the gateway would compile it; returns one line per problem.</summary>
    public async Task<IReadOnlyList<string>> ValidateStoredAsync(CancellationToken cancellationToken)
    {
        var data = await store.LoadConfigAsync(cancellationToken);
        var problems = new List<string>();
        foreach (var upstream in data.Upstreams)
        {
            if (ValidateUrl(upstream.BaseUrl) is { } urlProblem)
            {
                problems.Add($"upstream '{upstream.Slug}': url: {urlProblem}");
            }

            foreach (var error in UpstreamBalancing.Validate(upstream))
            {
                problems.Add($"upstream '{upstream.Slug}': {error}");
            }
        }

        var upstreamIds = data.Upstreams.Select(u => u.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var route in data.Routes)
        {
            foreach (var error in ValidateRoute(route))
            {
                problems.Add($"route '{route.Slug}': {error}");
            }

            if (route.UpstreamId is { } upstreamId && !upstreamIds.Contains(upstreamId))
            {
                problems.Add($"route '{route.Slug}': upstream: unknown upstream '{upstreamId}'");
            }
        }

        return problems;
    }

    /// <summary>Static checks of one route definition (everything but references), as "field: message".</summary>
    public static IEnumerable<ManagementError> ValidateRoute(RouteDefinition route)
    {
        if (route.Slug.Length == 0)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "name", "name must contain at least one letter or digit");
        }

        if (TextFields.Check(("name", route.Name), ("description", route.Description), ("path", route.PathPattern), ("host_pattern", route.HostPattern)) is { } textProblem)
        {
            yield return textProblem;
        }

        if (PathPatterns.Validate(route.PathPattern, route.MatchType) is { } pathProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "path", pathProblem);
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

        foreach (var (name, value) in route.Headers)
        {
            if (!HttpTokens.IsToken(name))
            {
                yield return new ManagementError(ManagementErrorKind.Validation, "headers", $"'{name}' is not a valid header name");
                break;
            }

            if (TextFields.Check("headers", value) is { } headerProblem)
            {
                yield return headerProblem;
                break;
            }
        }

        if (route.PathRewrite.Length > 0 && (PathRewriter.Validate(route.PathRewrite) ?? RewriteSegments.Validate(route.PathRewrite)) is { } rewriteProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "path_rewrite", rewriteProblem);
        }

        if (route.MethodOverride.Length > 0 && RouteMethods.Validate(route.MethodOverride) is { } overrideProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "method_override", overrideProblem);
        }

        if (route.RequestTransform.Length > 0 && TransformProblem(() => Transforms.RequestTransform.Parse(route.RequestTransform)) is { } requestProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "request_transform", requestProblem);
        }

        if (route.ResponseTransform.Length > 0 && TransformProblem(() => Transforms.ResponseTransform.Parse(route.ResponseTransform)) is { } responseProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "response_transform", responseProblem);
        }

        if (Metering.MeteringRule.Validate(route.MeteringMode, route.MeteringExpr) is { } meteringProblem)
        {
            yield return new ManagementError(ManagementErrorKind.Validation, "metering_expr", meteringProblem);
        }
    }

    /// <summary>Null when the URL can be an upstream base URL; else why not.</summary>
    public static string? ValidateUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            return $"'{url}' is not an absolute http:// or https:// URL";
        }

        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            return "a base URL cannot carry a query or fragment";
        }

        return uri.UserInfo.Length > 0 ? "put credentials in --auth-type/--auth-value, not in the URL" : null;
    }

    private static ManagementResult<UpstreamDefinition> ApplyUpstream(UpstreamDefinition u, UpstreamInput input)
    {
        if (TextFields.Check(("name", input.Name), ("description", input.Description), ("auth_header", input.AuthHeader)) is { } textProblem)
        {
            return textProblem;
        }

        if (input.Name is not null)
        {
            var name = input.Name.Trim();
            var slug = Slug.From(name);
            if (slug.Length == 0)
            {
                return Invalid("name", "name must contain at least one letter or digit");
            }

            u = u with { Name = name, Slug = slug };
        }

        if (input.Description is not null)
        {
            u = u with { Description = input.Description };
        }

        if (input.Url is not null)
        {
            if (input.Targets is not null)
            {
                return Invalid("url", "give either url (one target) or targets, not both");
            }

            var url = input.Url.Trim();
            if (ValidateUrl(url) is { } problem)
            {
                return Invalid("url", problem);
            }

            u = u with { BaseUrl = url.TrimEnd('/'), Targets = [new UpstreamTarget(url.TrimEnd('/'))] };
        }

        if (UpstreamBalancing.Apply(u, input) is var balanced && balanced.Error is not null)
        {
            return balanced.Error;
        }

        u = balanced.Value!;

        if (input.Timeout is not null)
        {
            if (input.Timeout is "0" or "default")
            {
                u = u with { TimeoutMs = null };
            }
            else if (Durations.TryParse(input.Timeout, out var timeout) && timeout > TimeSpan.Zero)
            {
                u = u with { TimeoutMs = (int)timeout.TotalMilliseconds };
            }
            else
            {
                return Invalid("timeout", $"'{input.Timeout}' is not a positive duration (milliseconds, or e.g. 30s)");
            }
        }

        if (input.MaxIdleConns is { } maxIdle)
        {
            if (maxIdle < 0)
            {
                return Invalid("max_idle_conns", "must be 0 or more");
            }

            u = u with { MaxIdleConns = maxIdle };
        }

        if (input.IdleConnTimeoutMs is { } idleTimeout)
        {
            if (idleTimeout < 0)
            {
                return Invalid("idle_conn_timeout_ms", "must be 0 or more");
            }

            u = u with { IdleConnTimeoutMs = idleTimeout };
        }

        if (input.MaxConns is { } maxConns)
        {
            if (maxConns < 0)
            {
                return Invalid("max_conns", "must be 0 (unlimited) or more");
            }

            u = u with { MaxConns = maxConns };
        }

        if (input.HttpVersion is not null)
        {
            if (!UpstreamHttpVersionConverter.TryParse(input.HttpVersion, out var httpVersion))
            {
                return Invalid("http_version", $"'{input.HttpVersion}' is not one of {UpstreamHttpVersionConverter.Allowed}");
            }

            u = u with { HttpVersion = httpVersion };
        }

        if (input.AuthType is not null)
        {
            if (!WireNames.TryParse<UpstreamAuthType>(input.AuthType, out var authType))
            {
                return Invalid("auth_type", $"'{input.AuthType}' is not one of {WireNames.List<UpstreamAuthType>()}");
            }

            u = u with { AuthType = authType };
        }

        if (input.AuthHeader is not null)
        {
            u = u with { AuthHeader = input.AuthHeader.Trim() };
        }

        if (input.AuthValue is not null)
        {
            u = u with { AuthValue = input.AuthValue };
        }

        if (input.Enabled is { } enabled)
        {
            u = u with { Enabled = enabled };
        }

        if (u.AuthType == UpstreamAuthType.None)
        {
            u = u with { AuthValue = "", AuthHeader = "" };
        }
        else
        {
            if (u.AuthValue.Length == 0)
            {
                return Invalid("auth_value", $"auth_type {WireNames.Of(u.AuthType)} needs an auth value");
            }

            if (u.AuthValue.AsSpan().ContainsAny('\r', '\n'))
            {
                return Invalid("auth_value", "auth value cannot contain line breaks");
            }

            if (TextFields.Check("auth_value", u.AuthValue) is { } credentialProblem)
            {
                return credentialProblem;
            }

            if (u.AuthType == UpstreamAuthType.Header && !HttpTokens.IsToken(u.AuthHeader))
            {
                return Invalid("auth_header", "auth_type header needs a valid header name in auth_header");
            }
        }

        return u;
    }

    private async Task<ManagementResult<RouteDefinition>> ApplyRouteAsync(RouteDefinition r, RouteInput input, CancellationToken cancellationToken)
    {
        if (input.Name is not null)
        {
            var name = input.Name.Trim();
            r = r with { Name = name, Slug = Slug.From(name) };
        }

        if (input.Description is not null)
        {
            r = r with { Description = input.Description };
        }

        if (input.MatchType is not null)
        {
            if (!WireNames.TryParse<PathMatchType>(input.MatchType, out var matchType))
            {
                return Invalid("match_type", $"'{input.MatchType}' is not one of {WireNames.List<PathMatchType>()}");
            }

            r = r with { MatchType = matchType };
        }

        if (input.Path is not null)
        {
            r = r with { PathPattern = input.Path.Trim() };
        }

        if (input.HostMatchType is not null && input.HostMatchType.Length > 0)
        {
            if (!WireNames.TryParse<HostMatchType>(input.HostMatchType, out var hostType))
            {
                return Invalid("host_match_type", $"'{input.HostMatchType}' is not one of {WireNames.List<HostMatchType>()}");
            }

            r = r with { HostMatchType = hostType };
        }

        if (input.HostPattern is not null)
        {
            var pattern = input.HostPattern.Trim();
            var type = string.IsNullOrEmpty(input.HostMatchType) ? HostPattern.InferType(pattern) : r.HostMatchType;
            r = r with { HostPattern = HostPattern.Canonicalize(pattern, type), HostMatchType = type };
        }

        if (input.Methods is not null)
        {
            r = r with
            {
                Methods = [.. input.Methods.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(m => m.ToUpperInvariant()).Distinct(StringComparer.Ordinal)],
            };
        }

        if (input.Headers is not null)
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var pair in input.Headers)
            {
                var eq = pair.IndexOf('=');
                if (eq <= 0)
                {
                    return Invalid("headers", $"'{pair}' is not name=value");
                }

                headers[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
            }

            r = r with { Headers = headers };
        }

        if (input.Upstream is not null)
        {
            if (input.Upstream.Length == 0)
            {
                r = r with { UpstreamId = null };
            }
            else
            {
                var upstream = await store.FindUpstreamAsync(input.Upstream, cancellationToken);
                if (upstream is null)
                {
                    return Invalid("upstream", $"unknown upstream '{input.Upstream}'");
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
            r = r with { RequestTransform = input.RequestTransform.Trim() };
        }

        if (input.ResponseTransform is not null)
        {
            r = r with { ResponseTransform = input.ResponseTransform.Trim() };
        }

        if (input.Protocol is not null)
        {
            if (!WireNames.TryParse<RouteProtocol>(input.Protocol, out var protocol))
            {
                return Invalid("protocol", $"'{input.Protocol}' is not one of {WireNames.List<RouteProtocol>()}");
            }

            r = r with { Protocol = protocol };
        }

        if (input.MeteringMode is not null)
        {
            if (!WireNames.TryParse<MeteringMode>(input.MeteringMode, out var mode))
            {
                return Invalid("metering_mode", $"'{input.MeteringMode}' is not one of {WireNames.List<MeteringMode>()}");
            }

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

        if (input.Priority is { } priority)
        {
            r = r with { Priority = priority };
        }

        if (input.Enabled is { } enabled)
        {
            r = r with { Enabled = enabled };
        }

        foreach (var error in ValidateRoute(r))
        {
            return error;
        }

        return r;
    }

    private static string DefaultRouteName(RouteInput input)
    {
        // `routes create --path "/users/*" --upstream users-api` without a name (the user's page does this).
        var basis = (input.HostPattern ?? "") + " " + (input.Path ?? "");
        var slug = Slug.From(basis);
        return slug.Length == 0 ? "root" : slug;
    }

    private static string? TransformProblem(Func<object> parse)
    {
        try
        {
            _ = parse();
            return null;
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }
    }
}
