using ApiGate.Core.Rewriting;
using ApiGate.Gateway.Errors;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Pipeline;

/// <summary>Applies the route's compiled path rewrite (SPEC §2.4); an unsafe or failing rewrite is a 500 transform_error.</summary>
internal sealed partial class PathRewriteStep(ILogger<PathRewriteStep> logger) : IRequestStep
{
    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        var rewriter = request.Route.Rewriter;
        if (rewriter is null)
        {
            return ValueTask.FromResult(true);
        }

        try
        {
            request.UpstreamPath = rewriter.Rewrite(request.Match, request);
            return ValueTask.FromResult(true);
        }
        catch (RewriteException ex)
        {
            LogRewriteFailed(request.Route.Definition.Id, request.RequestId, ex.Message);
            return request.RejectAsync(GatewayError.TransformError("Path rewrite failed: " + ex.Message));
        }
    }


    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Path rewrite of route {RouteId} failed for request {RequestId}: {Reason}")]
    private partial void LogRewriteFailed(string routeId, string requestId, string reason);
}
