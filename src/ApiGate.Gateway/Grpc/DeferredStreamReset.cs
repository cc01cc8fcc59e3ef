using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ApiGate.Gateway.Grpc;

/// <summary>
/// Holds back the stream reset the forwarder sends when an upstream fails after the response started (YARP resets an
/// HTTP/2 stream at once), so a gRPC call can still be ended with its status in trailers (<c>Errors.GrpcErrors.TryEndStartedAsync</c>).
/// Installed on a gRPC call's context for the forwarding only; whatever the call ends with, a reset asked for is either
/// superseded by those trailers or done (<see cref="Release"/>) before the forward step returns.
/// </summary>
internal sealed class DeferredStreamReset : IHttpResetFeature
{
    private readonly IHttpResetFeature _inner;
    private int? _errorCode;
    private bool _done;

    private DeferredStreamReset(IHttpResetFeature inner) => _inner = inner;

    /// <summary>Takes the place of the server's reset feature; null when the request has none (HTTP/1.x).</summary>
    public static DeferredStreamReset? Install(HttpContext context)
    {
        if (context.Features.Get<IHttpResetFeature>() is not { } inner)
        {
            return null;
        }

        var deferred = new DeferredStreamReset(inner);
        context.Features.Set<IHttpResetFeature>(deferred);
        return deferred;
    }

    /// <summary>Notes the reset instead of sending it.</summary>
    public void Reset(int errorCode)
    {
        if (!_done)
        {
            _errorCode ??= errorCode;
        }
    }

    /// <summary>The call ends with trailers instead: the reset asked for (if any) is not sent.</summary>
    public void Supersede() => _done = true;

    /// <summary>Sends the reset asked for, if any and not superseded.</summary>
    public void Release()
    {
        if (!_done && _errorCode is { } code)
        {
            _done = true;
            _inner.Reset(code);
        }
    }

    /// <summary>Puts the server's own feature back and sends a reset still held.</summary>
    public void Uninstall(HttpContext context)
    {
        context.Features.Set(_inner);
        Release();
    }
}
