using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>
/// The one place where upstreams are validated and written (the CLI and the admin API call it); a refused change
/// returns an error naming the field and writes nothing. The load-balancing part of the rules is <see cref="UpstreamBalancing"/>.
/// </summary>
public sealed class UpstreamService(IGatewayStore store, TimeProvider timeProvider, ConflictBackOff? conflictBackOff = null)
{
    private readonly ConflictBackOff _conflictBackOff = conflictBackOff ?? ConflictBackOff.Default;

    /// <summary>
    /// The longest target URL, in UTF-8 bytes: far beyond any real one, and short enough to be part of the key every
    /// running gateway reports a target's health under (<c>target_health</c>). PostgreSQL's B-tree entries hold at most
    /// 2,704 bytes: with a longer URL every report of the upstream's targets failed there, every 10 s.
    /// </summary>
    public const int MaxUrlBytes = 2048;

    public Task<IReadOnlyList<UpstreamDefinition>> ListAsync(CancellationToken cancellationToken) =>
        store.ListUpstreamsAsync(cancellationToken);

    public async Task<ManagementResult<UpstreamDefinition>> GetAsync(string idOrSlug, CancellationToken cancellationToken) =>
        await store.FindUpstreamAsync(idOrSlug, cancellationToken) is { } upstream ? upstream : NotFound("upstream", idOrSlug);

    public async Task<ManagementResult<UpstreamDefinition>> CreateAsync(UpstreamChanges input, CancellationToken cancellationToken)
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

        return await NamedAsync(await WriteAsync(built.Value!, store.CreateUpstreamAsync, cancellationToken), built.Value!, cancellationToken);
    }

    public Task<ManagementResult<UpstreamDefinition>> UpdateAsync(string idOrSlug, UpstreamChanges input, CancellationToken cancellationToken) =>
        UpdateAsync(idOrSlug, input, null, cancellationToken);

    /// <summary>Applies <paramref name="input"/> while <paramref name="condition"/> (when given) holds for the row as stored.</summary>
    public Task<ManagementResult<UpstreamDefinition>> UpdateAsync(string idOrSlug, UpstreamChanges input, RowCondition? condition, CancellationToken cancellationToken) =>
        RetryWhenChangedAsync(async () =>
        {
            var existing = await store.FindUpstreamAsync(idOrSlug, cancellationToken);
            if (existing is null)
            {
                return NotFound("upstream", idOrSlug);
            }

            if (condition?.Refuse("upstream", idOrSlug, existing.UpdatedAt) is { } stale)
            {
                return stale;
            }

            var built = ApplyUpstream(existing with { UpdatedAt = Storage.RowVersion.ChangedAt(timeProvider, existing.UpdatedAt) }, input);
            if (built.Error is not null)
            {
                return StoredBeforeTheRule(existing, input, built.Error) ?? built.Error;
            }

            if (Unchanged.Same(existing, built.Value!))
            {
                return existing;
            }

            return await NamedAsync(
                await WriteAsync(built.Value!, (upstream, ct) => store.UpdateUpstreamAsync(upstream, existing.UpdatedAt, ct), cancellationToken), built.Value!, cancellationToken);
        }, _conflictBackOff, cancellationToken);

    private Task<ManagementResult<UpstreamDefinition>> NamedAsync(ManagementResult<UpstreamDefinition> written, UpstreamDefinition upstream, CancellationToken cancellationToken) =>
        SlugTakenAsync(written, "upstream", upstream.Name, upstream.Slug, async slug => (await store.FindUpstreamAsync(slug, cancellationToken))?.Name);

    /// <summary>Deletes it; the same delete sent twice at once answers not found to the second (<see cref="Outcomes.DeleteFoundAsync"/>).</summary>
    public Task<ManagementResult<UpstreamDefinition>> DeleteAsync(string idOrSlug, CancellationToken cancellationToken) =>
        DeleteAsync(idOrSlug, null, cancellationToken);

    /// <summary>Deletes it while <paramref name="condition"/> (when given) holds for the row as read.</summary>
    public Task<ManagementResult<UpstreamDefinition>> DeleteAsync(string idOrSlug, RowCondition? condition, CancellationToken cancellationToken) =>
        DeleteFoundAsync("upstream", idOrSlug, ct => store.FindUpstreamAsync(idOrSlug, ct), x => x.UpdatedAt, condition, (u, readAt, ct) => store.DeleteUpstreamAsync(u.Id, readAt, ct), cancellationToken);

    /// <summary>
    /// <paramref name="error"/> told as the stored row's when the row as stored already breaks that rule (a value saved by
    /// an older build, before the rule existed, and left as it was by the change): which stored field to fix and how, in
    /// the same change. Null when the change itself is what breaks it (it gives that field).
    /// </summary>
    private static ManagementError? StoredBeforeTheRule(UpstreamDefinition existing, UpstreamChanges input, ManagementError error)
    {
        // A target's URL is refused as its own field (targets.1.url) but given with the whole list.
        var field = ListEntryField.ListOf(error.Field);
        var given = field switch
        {
            "targets" => input.Targets is not null || input.Url is not null,
            "hash_on" => input.HashOn is not null || input.LbPolicy is not null,
            "health_check.path" => input.HealthCheck?.Path is not null,
            _ => true, // the other rules are as old as the fields: only a change can break them
        };
        if (given || error.Kind != ManagementErrorKind.Validation || !UpstreamBalancing.Validate(existing).Contains(error))
        {
            return null;
        }

        var (name, problem) = ListEntryField.Split(error);
        return Invalid(error.Field, $"{name} as stored: {problem} (saved before this rule). Every change to this upstream is refused until it is fixed: {HowToFix(field)}.");
    }

    /// <summary>How to fix a stored value of <paramref name="field"/> (a list's name for its entries) in a change.</summary>
    internal static string HowToFix(string field) => field switch
    {
        "health_check.path" => "send health_check.path in the same change (CLI --health-path), e.g. /healthz, or none to turn active checks off",
        "targets" => "send url or targets in the same change (CLI --url or --targets) with every target URL valid",
        _ => $"send a valid {field} in the same change",
    };

    /// <summary>
    /// A stored upstream's breaches of the rules a write holds it to (for <c>config validate</c> and the gateway's load),
    /// each with what the gateway does with the value instead (<c>Served</c>) when it loads and serves it anyway: a value
    /// saved by an older build before its rule existed — a target URL whose path holds a dot segment, served with the
    /// segments resolved (also when the URL breaks an older rule as well, listed on its own); a <c>health_check.path</c>
    /// past <see cref="MaxUrlBytes"/>, probed as stored. <c>Served</c> is null for the others: a rule as old as its field,
    /// or a value the gateway cannot use (a target URL it cannot parse refuses the config). Every change to an upstream
    /// with either kind is refused until the value is fixed (<see cref="StoredBeforeTheRule"/>).
    /// </summary>
    public static IEnumerable<(ManagementError Error, string? Served)> CheckStored(UpstreamDefinition upstream)
    {
        var targets = upstream.EffectiveTargets;
        foreach (var error in UpstreamBalancing.Validate(upstream))
        {
            if (ListEntryField.Parse(error.Field) is ("targets", var index, "url") && index < targets.Count
                && DotSegmentProblem(targets[index].Url) is { } dotSegment && Uri.TryCreate(targets[index].Url, UriKind.Absolute, out _))
            {
                // The gateway binds any URL it can parse (Gateway/Balancing/TargetBinding), the parser resolving its dot segments.
                var breach = ListEntryField.Invalid("targets", index, "url", dotSegment);
                if (breach != error)
                {
                    yield return (error, null);
                }

                yield return (breach, "the gateway serves it with the dot segments resolved by the URL parser, as before (/v2/../x sends to /x)");
            }
            else
            {
                // The prober sends the path as stored; a target refusing a request line that long fails the probe (Gateway/Probing).
                yield return (error, error == UpstreamBalancing.HealthPathTooLong ? "the gateway loads it and probes each target at that path, as before" : null);
            }
        }
    }

    /// <summary>Null when the URL can be an upstream base URL; else why not.</summary>
    public static string? ValidateUrl(string url) => BaseUrlProblem(url) ?? DotSegmentProblem(url);

    /// <summary>
    /// Why the URL's path cannot be a target's: it holds a dot segment. The URL parser resolves '.' and '..'
    /// (http://b/v2/../x is sent to /x), and a path prefixed to every request should say where requests go as written; a
    /// client's own dot segments are refused too (400 invalid_path). A rule newer than the field (<see cref="CheckStored"/>).
    /// </summary>
    private static string? DotSegmentProblem(string url) => DotSegment(url) is { } segment
        ? $"its path holds the dot segment '{segment}' ('%2e' counts as '.'), so requests would not go to the path as written: write the path without '.' or '..' segments"
        : null;

    /// <summary>Why the URL cannot be an upstream base URL by the rules older than the one on dot segments; null when it can.</summary>
    private static string? BaseUrlProblem(string url)
    {
        if (TextFields.UrlProblem(url) is { } text)
        {
            return text;
        }

        if (System.Text.Encoding.UTF8.GetByteCount(url) > MaxUrlBytes)
        {
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"is longer than {MaxUrlBytes} bytes");
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            return $"'{UrlUserInfo.Mask(url)}' is not an absolute http:// or https:// URL";
        }

        if (uri.Port == 0)
        {
            return "port 0 is no port a target can be reached on";
        }

        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            return "a base URL cannot carry a query or fragment";
        }

        return uri.UserInfo.Length > 0
            ? "put credentials in the upstream's auth type and value (auth_type/auth_value; CLI --auth-type/--auth-value), not in the URL"
            : null;
    }

    /// <summary>The first '.' or '..' segment of the URL's path, also when written with %2e; null when there is none.</summary>
    private static string? DotSegment(string url)
    {
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        var path = scheme < 0 ? -1 : url.AsSpan(scheme + 3).IndexOfAny('/', '\\');
        if (path < 0)
        {
            return null;
        }

        // The parser reads a backslash as '/' in http URLs, so it separates segments too.
        foreach (var segment in url[(scheme + 3 + path)..].Split('/', '\\'))
        {
            if (segment.Replace("%2e", ".", StringComparison.OrdinalIgnoreCase) is "." or "..")
            {
                return segment;
            }
        }

        return null;
    }

    private static ManagementResult<UpstreamDefinition> ApplyUpstream(UpstreamDefinition u, UpstreamChanges input)
    {
        if ((TextFields.Check(("name", input.Name), ("description", input.Description), ("auth_header", input.AuthHeader)) ?? TextFields.CheckInvisible("name", input.Name, u.Name) ?? TextFields.CheckName("name", input.Name?.Trim())) is { } textProblem)
        {
            return textProblem;
        }

        if (input.Name is not null)
        {
            var name = input.Name.Trim();
            var slug = Slug.From(name);
            if (slug.Length == 0)
            {
                return Invalid("name", "must contain at least one ASCII letter or digit (the id in URLs and the CLI is made from them)");
            }

            if (TextFields.SlugTooLong(slug) is { } slugProblem)
            {
                return slugProblem;
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

            var url = input.Url.OriginalString;
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

        if (input.Timeout.HasValue)
        {
            u = u with { TimeoutMs = input.Timeout.Value is { } timeout ? (int)timeout.TotalMilliseconds : null };
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

        if (input.HttpVersion is { } httpVersion)
        {
            u = u with { HttpVersion = httpVersion };
        }

        if (input.AuthType is { } authType)
        {
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
            // A credential given for an upstream that sends none would be dropped while the answer said it was taken. (The
            // header's name is not refused: a form or a client that sends a whole upstream back switches to none with the
            // old name still in it.)
            if (!string.IsNullOrEmpty(input.AuthValue))
            {
                return Invalid("auth_value", "the upstream's auth_type is none, so it sends no credential: set auth_type to bearer, basic or header with it");
            }

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

            if (u.AuthType == UpstreamAuthType.Header && ReservedHeaders.Problem(u.AuthHeader, credential: true) is { } reserved)
            {
                return Invalid("auth_header", reserved);
            }
        }

        return u;
    }
}
