using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>A test class with one real upstream and one real gateway, started before each test and stopped after.</summary>
public abstract class GatewayTestBase : IAsyncLifetime
{
    internal TestUpstream Upstream { get; private set; } = null!;

    internal TestGateway Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Upstream = await TestUpstream.StartAsync();
        Gateway = await TestGateway.StartAsync(Configure, directory: await StoreDirectoryAsync(), settings: Settings);
        await SetUpAsync();
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Upstream.DisposeAsync();
    }

    /// <summary>Gateway settings for this class (defaults: loopback, port 0, temp SQLite file).</summary>
    private protected virtual void Configure(GatewayOptions options)
    {
    }

    /// <summary>The settings' sources the gateway is given, as <c>serve</c> gives them (default: none, a host built from options alone).</summary>
    private protected virtual Microsoft.Extensions.Configuration.IConfiguration? Settings => null;

    /// <summary>
    /// The directory the gateway keeps its SQLite file in (default: null, a new one with no store yet, which the gateway
    /// creates and migrates; <see cref="MigratedStoreTemplate.NewDirectoryAsync"/>: one with a migrated copy).
    /// </summary>
    private protected virtual Task<string?> StoreDirectoryAsync() => Task.FromResult<string?>(null);

    /// <summary>Upstreams and routes every test of the class uses.</summary>
    private protected abstract Task SetUpAsync();
}
