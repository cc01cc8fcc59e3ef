using System.Text.Json.Nodes;
using ApiGate.Core.Transforms;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Transforms;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// SPEC §1 step 3: decides which of the route's request-transform blocks apply (conditions are evaluated once) and,
/// when one edits the JSON body, buffers the body (up to <see cref="GatewayOptions.TransformMaxBodyBytes"/>),
/// edits it and replaces it with a correct Content-Length. Header and query operations are applied by the
/// forwarding transformer; requests without body operations are never buffered.
/// </summary>
internal sealed class RequestTransformStep(GatewayOptions options) : IRequestStep
{
    public static readonly GatewayError TooLarge = new(413, "request_too_large", "Content Too Large", "The request body is larger than the gateway buffers for a body transform.");

    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        var transform = request.Policies.Request;
        if (transform is null)
        {
            return ValueTask.FromResult(true);
        }

        var operations = transform.Applicable(request);
        request.RequestOperations = operations;
        if (!operations.Any(o => o.HasBodyOperations) || !JsonBodies.IsJson(request.HttpContext.Request.ContentType))
        {
            return ValueTask.FromResult(true); // non-JSON bodies stream through untouched
        }

        return TransformBodyAsync(request, operations);
    }

    private async ValueTask<bool> TransformBodyAsync(GatewayRequest request, RequestOperations[] operations)
    {
        var http = request.HttpContext.Request;
        if (http.ContentLength > options.TransformMaxBodyBytes)
        {
            return await request.RejectAsync(TooLarge);
        }

        var (body, _) = await JsonBodies.ReadBoundedAsync(http.Body, options.TransformMaxBodyBytes, request.HttpContext.RequestAborted);
        if (body is null)
        {
            return await request.RejectAsync(TooLarge);
        }

        var node = body.Length == 0 ? new JsonObject() : JsonBodies.TryParse(body, out var error);
        if (node is not JsonObject json)
        {
            return await request.RejectAsync(new GatewayError(400, "bad_request", "Bad Request",
                node is null && body.Length > 0 ? "The request body is not valid JSON." : "The request body must be a JSON object for this route's body transform."));
        }

        foreach (var operation in operations)
        {
            operation.ApplyBody(json, request);
        }

        var bytes = JsonBodies.Serialize(json);
        http.Body = new MemoryStream(bytes, writable: false);
        http.ContentLength = bytes.Length;
        http.Headers.Remove("Transfer-Encoding");
        return true;
    }

}
