using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// At start the gateway says when upstream credentials sit in the store in plaintext (no <c>APIGATE_SECRET_KEY</c>), and,
/// with a key, when stored secrets are not written with it.
/// </summary>
public sealed class CredentialStorageWarningTests
{
    private const string Warning = "upstream credentials (auth_value) are stored in plaintext because APIGATE_SECRET_KEY is not set";
    private const string NotUnderKey = "are not encrypted with the current APIGATE_SECRET_KEY (plaintext, or another key); run apigate store rekey";

    [Fact]
    public async Task Start_CredentialsWithoutSecretKey_WarnsTheyAreStoredInPlaintext()
    {
        // Arrange
        var directory = await StoreWithUpstreamsAsync(secretKey: null, withCredentials: 2);
        var log = new CapturedLog();

        // Act
        await using var gateway = await StartAsync(directory, secretKey: null, log);
        var written = await log.UpToMarkerAsync(gateway);

        // Assert
        Assert.Contains("2 " + Warning, written, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", written, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_CredentialsWithSecretKey_DoesNotWarn()
    {
        // Arrange
        var directory = await StoreWithUpstreamsAsync(secretKey: "k3y", withCredentials: 1);
        var log = new CapturedLog();

        // Act
        await using var gateway = await StartAsync(directory, secretKey: "k3y", log);
        var written = await log.UpToMarkerAsync(gateway);

        // Assert
        Assert.DoesNotContain(Warning, written, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "2 stored secrets")] // written before a key was set
    [InlineData("old-k3y", "2 stored secrets")] // written with the previous key of an unfinished rotation
    [InlineData("new-k3y", null)] // rotated
    public async Task Start_WithSecretKey_WarnsWhileStoredSecretsAreNotWrittenWithIt(string? writtenWith, string? expected)
    {
        // Arrange
        var directory = await StoreWithUpstreamsAsync(secretKey: writtenWith, withCredentials: 2);
        var log = new CapturedLog();

        // Act
        await using var gateway = await TestGateway.StartAsync(options =>
        {
            options.SecretKey = "new-k3y";
            options.SecretKeyPrevious = writtenWith == "old-k3y" ? "old-k3y" : "";
            options.LogWriter = log.Writer;
        }, directory);
        var written = await log.UpToMarkerAsync(gateway);

        // Assert
        if (expected is null)
        {
            Assert.DoesNotContain(NotUnderKey, written, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains(expected + " (upstream credentials, webhook signing secrets, the forms key) " + NotUnderKey, written, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(Warning, written, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", written, StringComparison.Ordinal);
        Assert.DoesNotContain("k3y", written, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_NoCredentialsWithoutSecretKey_DoesNotWarn()
    {
        // Arrange
        var directory = await StoreWithUpstreamsAsync(secretKey: null, withCredentials: 0);
        var log = new CapturedLog();

        // Act
        await using var gateway = await StartAsync(directory, secretKey: null, log);
        var written = await log.UpToMarkerAsync(gateway);

        // Assert
        Assert.DoesNotContain(Warning, written, StringComparison.Ordinal);
    }

    /// <summary>A store with one upstream without credentials and <paramref name="withCredentials"/> with a bearer credential.</summary>
    private static async Task<string> StoreWithUpstreamsAsync(string? secretKey, int withCredentials)
    {
        var directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        await using (var store = new SqliteGatewayStore(Path.Combine(directory, "apigate.db"), new SecretProtector(secretKey)))
        {
            await store.InitializeAsync(CancellationToken.None);
            var config = new UpstreamService(store, TimeProvider.System);
            Assert.True((await config.CreateAsync((new UpstreamInput { Name = "open", Url = "http://127.0.0.1:1" }).Parsed(), CancellationToken.None)).Ok);
            for (var i = 0; i < withCredentials; i++)
            {
                var created = await config.CreateAsync(
                    (new UpstreamInput { Name = "secured-" + i, Url = "http://127.0.0.1:1", AuthType = "bearer", AuthValue = "s3cret" }).Parsed(), CancellationToken.None);
                Assert.True(created.Ok, created.Error?.ToString());
            }
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return directory;
    }

    private static Task<TestGateway> StartAsync(string directory, string? secretKey, CapturedLog log) =>
        TestGateway.StartAsync(options =>
        {
            options.SecretKey = secretKey ?? "";
            options.LogWriter = log.Writer;
        }, directory);
}
