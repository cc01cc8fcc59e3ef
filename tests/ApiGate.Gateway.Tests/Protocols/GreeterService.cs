using ApiGate.Gateway.Tests.Protocols.GrpcTest;
using Grpc.Core;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>The gRPC backend of the gRPC tests (greeter.proto), hosted by <see cref="GreeterUpstream"/>.</summary>
internal sealed class GreeterService(GreeterUpstream upstream) : Greeter.GreeterBase
{
    /// <summary>The name that makes <see cref="SayHello"/> fail with NOT_FOUND, to see a status carried in trailers.</summary>
    public const string Unknown = "nobody";

    /// <summary>The name <see cref="SayHello"/> answers only when the call is cancelled (it never answers on its own).</summary>
    public const string NeverAnswered = "never-answered";

    /// <summary>
    /// The name <see cref="SayHello"/> answers with <c>content-type: application/grpc+json</c> (the message still protobuf,
    /// which the client does not look at): a gRPC type with a <c>+json</c> suffix.
    /// </summary>
    public const string LabelledJson = "labelled-json";

    public override async Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
    {
        switch (request.Name)
        {
            case Unknown:
                throw new RpcException(new Status(StatusCode.NotFound, "no such person: " + request.Name));
            case NeverAnswered:
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                break;
            case LabelledJson:
                context.GetHttpContext().Response.ContentType = "application/grpc+json";
                break;
        }

        context.ResponseTrailers.Add("x-greeted", request.Name);
        return new HelloReply { Message = "Hello " + request.Name, Protocol = context.GetHttpContext().Request.Protocol };
    }

    public override async Task Count(CountRequest request, IServerStreamWriter<CountReply> responseStream, ServerCallContext context)
    {
        for (var i = 1; i <= request.To; i++)
        {
            await responseStream.WriteAsync(new CountReply { Value = i }, context.CancellationToken);
        }

        switch (request.Then)
        {
            case Then.Hold:
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                break;
            case Then.Reset:
                await upstream.ResetRequested.WaitAsync(context.CancellationToken);
                context.GetHttpContext().Abort();
                break;
            case Then.Fail:
                context.ResponseTrailers.Add("x-reason", "counted too far");
                throw new RpcException(new Status(StatusCode.InvalidArgument, FailDetail));
        }
    }

    /// <summary>The detail a <c>THEN_FAIL</c> call ends with: percent-encoded on the wire (gRPC HTTP/2 protocol).</summary>
    /// <summary>The name that makes <see cref="Chat"/> reset its stream once the test asks (GreeterUpstream.ResetStreams).</summary>
    public const string ResetName = "reset";

    public const string FailDetail = "stopped at 100% — über";

    public override async Task Chat(IAsyncStreamReader<HelloRequest> requestStream, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
    {
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            if (request.Name == ResetName)
            {
                await upstream.ResetRequested.WaitAsync(context.CancellationToken);
                context.GetHttpContext().Abort();
                return;
            }

            await responseStream.WriteAsync(new HelloReply { Message = "Hello " + request.Name }, context.CancellationToken);
        }
    }
}
