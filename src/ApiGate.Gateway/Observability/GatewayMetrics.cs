using System.Diagnostics;
using System.Diagnostics.Metrics;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Snapshots;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// The gateway's instruments on the <c>ApiGate</c> meter (SPEC §10). Names follow <c>apigate.&lt;feature&gt;.&lt;thing&gt;</c>;
/// the Prometheus exporter renders them as <c>apigate_&lt;feature&gt;_&lt;thing&gt;</c> with <c>_total</c> / <c>_seconds</c>
/// suffixes (docs/observability.md lists them). Other features add their own instruments to <see cref="Meter"/>.
/// </summary>
internal sealed class GatewayMetrics
{
    /// <summary>The meter name the metrics exporter subscribes to.</summary>
    public const string MeterName = "ApiGate";

    /// <summary>Bucket bounds (seconds) for the whole request, from a fast rejection to a long upstream call.</summary>
    public static readonly double[] RequestDurationBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    /// <summary>Bucket bounds (seconds) for the gateway's own share of a request: tens of microseconds to a few milliseconds normally.</summary>
    public static readonly double[] GatewayDurationBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

    /// <summary>
    /// Series an instrument keeps at most when its tags name routes, upstreams or targets (OpenTelemetry's default):
    /// measurements past it are counted under one overflow series. Every other instrument has a handful of tag
    /// combinations and keeps at most <see cref="FewSeriesLimit"/>.
    /// </summary>
    public const int ManySeriesLimit = 2000;

    /// <summary>
    /// Series kept by instruments whose tags are a small fixed set (error codes, methods, GC generations, none at
    /// all). OpenTelemetry allocates every instrument's series table up front at its limit — ~180 KB per instrument
    /// at 2,000 — so this keeps ~5 MB of the idle heap that no series would ever use.
    /// </summary>
    public const int FewSeriesLimit = 64;

    /// <summary>Instrument name prefixes whose tags carry a route, an upstream or a target (one series per route, target …).</summary>
    private static readonly string[] ManySeriesPrefixes =
        ["apigate.requests", "apigate.request.", "apigate.gateway.duration", "apigate.rate_limit.", "apigate.quota.", "apigate.upstream."];

    /// <summary>The most series <paramref name="instrument"/> may keep (see <see cref="ManySeriesLimit"/>, <see cref="FewSeriesLimit"/>).</summary>
    public static int SeriesLimit(Instrument instrument)
    {
        if (instrument.Meter.Name == MeterName)
        {
            foreach (var prefix in ManySeriesPrefixes)
            {
                if (instrument.Name.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return ManySeriesLimit;
                }
            }
        }

        return FewSeriesLimit;
    }

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;
    private readonly Histogram<double> _gatewayDuration;
    private readonly Counter<long> _authFailures;
    private readonly Counter<long> _rateLimitRejections;
    private readonly Counter<long> _quotaRejections;
    private readonly Counter<long> _adminRequests;
    private readonly Counter<long> _serverRefusals;

    public GatewayMetrics(IMeterFactory meterFactory, SnapshotManager snapshots, ApiKeyAuthenticator keys)
    {
        Meter = meterFactory.Create(MeterName);
        _requests = Meter.CreateCounter<long>("apigate.requests", description: "Requests handled by the gateway (proxied or rejected by it), by route, method, status class and upstream.");
        _requestDuration = Meter.CreateHistogram("apigate.request.duration", "s", "Time from the request reaching the pipeline to the end of the response.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = RequestDurationBuckets });
        _gatewayDuration = Meter.CreateHistogram("apigate.gateway.duration", "s", "The gateway's own share of a request: total time minus the upstream exchange.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = GatewayDurationBuckets });
        _authFailures = Meter.CreateCounter<long>("apigate.auth.failures", description: "Requests refused by authentication, by error code.");
        _rateLimitRejections = Meter.CreateCounter<long>("apigate.rate_limit.rejections", description: "Requests refused with 429 rate_limit_exceeded, by route.");
        _quotaRejections = Meter.CreateCounter<long>("apigate.quota.rejections", description: "Requests refused with 402 quota_exceeded, by route.");
        _adminRequests = Meter.CreateCounter<long>("apigate.admin.requests", description: "Admin API requests, by method and status class (401s show refused credentials).");
        _serverRefusals = Meter.CreateCounter<long>("apigate.server.refusals",
            description: "Requests the HTTP server refused before the gateway's pipeline saw them (malformed request line or headers, request target or headers too long, headers too slow), by status.");
        Meter.CreateObservableCounter("apigate.auth.key_lookups", () => Interlocked.Read(ref keys.Lookups),
            description: "API keys looked up in the store: cache misses (a key not seen since the last config change, or an unknown key).");
        Meter.CreateObservableGauge("apigate.config.version", () => snapshots.Current?.Version ?? 0, description: "Config version of the snapshot being served (0 = none loaded).");
        Meter.CreateObservableCounter("apigate.config.reload.failures", () => snapshots.ReloadFailures, description: "Config versions that failed to compile (the previous snapshot kept serving).");
        Targets = new TargetMetrics(Meter, snapshots);
    }

    /// <summary>The <c>ApiGate</c> meter; features register further instruments here (e.g. per upstream target).</summary>
    public Meter Meter { get; }

    /// <summary>Per upstream target: health, requests, failures, in flight, and retries per upstream.</summary>
    public TargetMetrics Targets { get; }

    /// <summary>Records one finished request. Tag values are existing strings; nothing is allocated.</summary>
    public void RecordRequest(in RequestOutcome outcome)
    {
        var statusClass = StatusClasses.Of(outcome.Status);
        if (_requests.Enabled)
        {
            var tags = new TagList
            {
                { "route", outcome.Route },
                { "method", HttpMethodNames.Normalize(outcome.Method) },
                { "status_class", statusClass },
                { "upstream", outcome.Upstream },
            };
            _requests.Add(1, tags);
        }

        if (_requestDuration.Enabled)
        {
            var tags = new TagList { { "route", outcome.Route }, { "status_class", statusClass }, { "upstream", outcome.Upstream } };
            _requestDuration.Record(outcome.TotalSeconds, tags);
            _gatewayDuration.Record(Math.Max(0, outcome.TotalSeconds - outcome.UpstreamSeconds), tags);
        }

        if (outcome.ErrorCode is { } code)
        {
            RecordRejection(code, outcome.Route);
        }

        Targets.RecordRetries(outcome.Upstream, outcome.Attempts);
    }

    /// <summary>Records one admin API request (admitted or refused).</summary>
    public void RecordAdminRequest(string method, int status)
    {
        if (_adminRequests.Enabled)
        {
            _adminRequests.Add(1, new TagList { { "method", HttpMethodNames.Normalize(method) }, { "status_class", StatusClasses.Of(status) } });
        }
    }

    /// <summary>Records one request the HTTP server refused before the pipeline (<see cref="ServerRefusals"/>).</summary>
    public void RecordServerRefusal(int status) =>
        _serverRefusals.Add(1, new KeyValuePair<string, object?>("status", status.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    private void RecordRejection(string code, string route)
    {
        switch (code)
        {
            case "missing_api_key" or "invalid_api_key" or "key_expired" or "key_revoked" or "user_suspended":
                _authFailures.Add(1, new KeyValuePair<string, object?>("code", code));
                break;
            case "rate_limit_exceeded":
                _rateLimitRejections.Add(1, new KeyValuePair<string, object?>("route", route));
                break;
            case "quota_exceeded":
                _quotaRejections.Add(1, new KeyValuePair<string, object?>("route", route));
                break;
        }
    }
}
