using ApiGate.Gateway.Tests.Protocols.GrpcTest;
using Grpc.Core;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>The gRPC backend of the gRPC tests (greeter.proto), hosted by <see cref="GreeterUpstream"/>.</summary>
internal sealed class GreeterService : Greeter.GreeterBase
{
    /// <summary>The name that makes <see cref="SayHello"/> fail with NOT_FOUND, to see a status carried in trailers.</summary>
    public const string Unknown = "nobody";

    public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
    {
        if (request.Name == Unknown)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "no such person: " + request.Name));
        }

        context.ResponseTrailers.Add("x-greeted", request.Name);
        return Task.FromResult(new HelloReply { Message = "Hello " + request.Name, Protocol = context.GetHttpContext().Request.Protocol });
    }

    public override async Task Count(CountRequest request, IServerStreamWriter<CountReply> responseStream, ServerCallContext context)
    {
        for (var i = 1; i <= request.To; i++)
        {
            await responseStream.WriteAsync(new CountReply { Value = i }, context.CancellationToken);
        }
    }
}
