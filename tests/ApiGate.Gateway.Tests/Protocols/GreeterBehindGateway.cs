using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using Grpc.Net.Client;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// The gRPC tests' setup: the real service (<see cref="GreeterUpstream"/>), a gateway with its h2c port on, and a gRPC
/// channel to that port (cleartext gRPC clients speak prior-knowledge HTTP/2, which the main port refuses).
/// </summary>
internal sealed class GreeterBehindGateway : IAsyncDisposable
{
    private GreeterBehindGateway(GreeterUpstream service, TestGateway gateway, GrpcChannel channel)
    {
        Service = service;
        Gateway = gateway;
        Channel = channel;
    }

    public GreeterUpstream Service { get; }

    public TestGateway Gateway { get; }

    public GrpcChannel Channel { get; }

    public static async Task<GreeterBehindGateway> StartAsync(Action<GatewayOptions> configure)
    {
        var service = await GreeterUpstream.StartAsync();
        var gateway = await TestGateway.StartAsync(o =>
        {
            o.H2cPort = 0;
            configure(o);
        });
        var channel = GrpcChannel.ForAddress(gateway.Addresses.ElementAt(1), new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
        return new GreeterBehindGateway(service, gateway, channel);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Gateway.DisposeAsync();
        await Service.DisposeAsync();
    }
}
