namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// For tests of a real <c>apigate serve</c> process (<see cref="ServeProcess"/>): a test upstream and a temporary SQLite
/// store, set up before each test and removed after it; the test fills the store, then starts the process on it.
/// </summary>
public abstract class ServeProcessTestBase : IAsyncLifetime
{
    private protected TestUpstream Upstream { get; private set; } = null!;

    private protected TempStore Temp { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Upstream = await TestUpstream.StartAsync();
        Temp = await TempStore.CreateAsync();
    }

    public async Task DisposeAsync()
    {
        await Temp.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}
