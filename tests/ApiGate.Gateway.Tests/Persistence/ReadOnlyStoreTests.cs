using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// A store file its service user may not write (<c>chmod 444</c>): a real <c>apigate serve</c> process and the CLI, run
/// as a user whom file modes bind (<see cref="ServiceUser"/>), answer <c>503 store_unavailable</c> / one error line naming
/// the path, the user and the setting, never a bare SQLite error; once the file is writable again the same process
/// writes without a restart, because the connections SQLite opened read-only are not handed out again.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes
public sealed class ReadOnlyStoreTests : ServeProcessTestBase
{
    private const UnixFileMode ReadOnly = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode ReadWrite = ReadOnly | UnixFileMode.UserWrite;

    [ServiceUserFact]
    public async Task AdminWriteAndUsage_StoreFileReadOnly_503NamingPathUserAndSetting_ThenWrittenOnceWritableWithoutARestart()
    {
        // Arrange: an admin token and a key on a protected route, the store handed to the service user, its file read-only.
        var token = (await new AdminTokenService(Temp.Store, TimeProvider.System).CreateAsync("ops", CancellationToken.None)).Value!.Token;
        Assert.True((await new UpstreamService(Temp.Store, TimeProvider.System).CreateAsync(new UpstreamInput { Name = "backend", Url = Upstream.Url }.Parsed(), CancellationToken.None)).Ok);
        Assert.True((await new RouteService(Temp.Store, TimeProvider.System).CreateAsync(
            new RouteChanges { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true }, CancellationToken.None)).Ok);
        Assert.True((await new UserService(Temp.Store, TimeProvider.System).CreateAsync(new UserChanges { Email = "ro@example.com" }, CancellationToken.None)).Ok);
        var key = (await new KeyService(Temp.Store, TimeProvider.System).CreateAsync(new KeyChanges { User = "ro@example.com" }, CancellationToken.None)).Value!.FullKey;
        await HandOverReadOnlyAsync();

        using var serve = ServeProcess.Start(Temp.DatabasePath, asServiceUser: true);
        using var client = TestGateway.CreateClient();
        try
        {
            await serve.WaitUntilReadyAsync(client);

            // Act: a write while the file is read-only, then the operator fixes the permissions; the process keeps running.
            var (refusedStatus, refused) = await AdminAsync(client, HttpMethod.Post, serve.Url + "/admin/plans", """{"id":"p1","name":"P1"}""", token);
            var proxiedWhileReadOnly = await ProxyAsync(client, serve.Url, key);
            using var readyWhileReadOnly = await client.GetAsync(serve.Url + "/health/ready");
            var readinessWhileReadOnly = JsonDocument.Parse(await readyWhileReadOnly.Content.ReadAsStringAsync()).RootElement;
            SetMode(ReadWrite);
            using var readyAfter = await client.GetAsync(serve.Url + "/health/ready");
            var readinessAfter = JsonDocument.Parse(await readyAfter.Content.ReadAsStringAsync()).RootElement;
            var (createdStatus, _) = await AdminAsync(client, HttpMethod.Post, serve.Url + "/admin/plans", """{"id":"p2","name":"P2"}""", token);
            var (firstStatus, _) = await AdminAsync(client, HttpMethod.Get, serve.Url + "/admin/plans/p1", null, token);
            var proxied = await ProxyAsync(client, serve.Url, key);
            var requests = await StoredRequestsAsync(client, serve.Url, token);

            // Assert
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refusedStatus);
            var error = refused.GetProperty("errors")[0];
            Assert.Equal("store_unavailable", error.GetProperty("code").GetString());
            var detail = error.GetProperty("detail").GetString()!;
            Assert.StartsWith($"the store at {Temp.DatabasePath} (APIGATE_DATABASE_DSN / --database) is read-only for the user this process runs as, {ServiceUser.Name}: ", detail, StringComparison.Ordinal);
            Assert.Contains($", {ServiceUser.Name}: {Temp.DatabasePath}", detail, StringComparison.Ordinal); // the files it cannot write, the database first
            Assert.Contains($" cannot be written by {ServiceUser.Name}; make the database file", detail, StringComparison.Ordinal);
            Assert.True(proxiedWhileReadOnly == "200", proxiedWhileReadOnly); // reads still work: keys, routes
            Assert.Equal(HttpStatusCode.OK, readyWhileReadOnly.StatusCode); // degraded, not failed: keep it in the pool
            Assert.Equal("degraded", readinessWhileReadOnly.GetProperty("status").GetString());
            Assert.Equal("read_only", readinessWhileReadOnly.GetProperty("checks").GetProperty("store").GetString());
            Assert.Contains("is read-only for the user this process runs as", readinessWhileReadOnly.GetProperty("checks").GetProperty("store_reason").GetString(), StringComparison.Ordinal);
            Assert.Equal("ready", readinessAfter.GetProperty("status").GetString());
            Assert.Equal(HttpStatusCode.Created, createdStatus);
            Assert.Equal(HttpStatusCode.NotFound, firstStatus); // the refused write left nothing behind
            Assert.True(proxied == "200", proxied);
            Assert.True(requests == 2, $"{requests} requests stored: the one made while the file was read-only is held, not dropped, and written with the next once it is writable");
            Assert.False(serve.Process.HasExited); // the same process throughout: no restart
        }
        finally
        {
            await serve.KillAsync();
        }
    }

    [ServiceUserFact]
    public async Task Cli_StoreFileReadOnly_OneErrorLineNamingPathUserAndSetting_ExitCode1_ThenWorksOnceWritable()
    {
        // Arrange
        await HandOverReadOnlyAsync();

        // Act
        var refused = await ServiceUser.RunCliAsync(Temp.DatabasePath, "plans", "create", "--id", "p1", "--name", "P1");
        SetMode(ReadWrite);
        var created = await ServiceUser.RunCliAsync(Temp.DatabasePath, "plans", "create", "--id", "p1", "--name", "P1");

        // Assert
        Assert.Equal(1, refused.ExitCode);
        var line = Assert.Single(refused.Diagnostics.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: the store at {Temp.DatabasePath} (APIGATE_DATABASE_DSN / --database) is read-only for the user this process runs as, {ServiceUser.Name}: ", line, StringComparison.Ordinal);
        Assert.EndsWith("make the database file, its -wal and -shm files and its directory writable by that user", line, StringComparison.Ordinal);
        Assert.DoesNotContain("SQLite Error", refused.Error, StringComparison.Ordinal);
        Assert.True(created.ExitCode == 0, created.Error);
    }

    [Fact]
    public async Task Write_StoreOpenedWithModeReadOnly_StoreUnavailableNamingTheSettingsMode()
    {
        // Arrange: a DSN that asks for a read-only connection (permissions play no part, so this runs as any user).
        await using var store = new SqliteGatewayStore($"Data Source={Temp.DatabasePath};Mode=ReadOnly", new SecretProtector(null));
        await store.InitializeAsync(CancellationToken.None);

        // Act
        var refused = await Assert.ThrowsAsync<StoreUnavailableException>(() =>
            new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Id = "p1", Name = "P1" }, CancellationToken.None));

        // Assert
        Assert.Equal(
            $"the store at {Temp.DatabasePath} (APIGATE_DATABASE_DSN / --database) is opened with Mode=ReadOnly, so nothing can be written to it: " +
            "remove Mode=ReadOnly from the setting",
            refused.Message);
    }

    /// <summary>Closes this process's connections, gives the store's directory to the service user and makes the file read-only.</summary>
    private async Task HandOverReadOnlyAsync()
    {
        ServiceUser.AssertAvailable();
        await Temp.Store.DisposeAsync(); // the connection it holds open keeps the -wal and -shm files this user owns
        SqliteConnection.ClearAllPools();
        await ServiceUser.OwnAsync(Temp.Directory);
        SetMode(ReadOnly);
    }

    /// <summary>The database file and the -wal and -shm files SQLite made next to it (with the database's mode).</summary>
    private void SetMode(UnixFileMode mode)
    {
        foreach (var file in (string[])[Temp.DatabasePath, Temp.DatabasePath + "-wal", Temp.DatabasePath + "-shm"])
        {
            if (File.Exists(file))
            {
                File.SetUnixFileMode(file, mode);
            }
        }
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> AdminAsync(HttpClient client, HttpMethod method, string url, string? body, string token)
    {
        using var request = new HttpRequestMessage(method, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    /// <summary>A proxied request with the key: its status, and the body when it is not 200.</summary>
    private static async Task<string> ProxyAsync(HttpClient client, string url, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url + "/private/x");
        request.Headers.Add("X-API-Key", key);
        using var response = await client.SendAsync(request);
        return response.StatusCode == HttpStatusCode.OK ? "200" : $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
    }

    /// <summary>This month's stored requests of the key's user, once there are any (at most 30 s: a bound for a stuck test).</summary>
    private static async Task<long> StoredRequestsAsync(HttpClient client, string url, string token)
    {
        long requests = 0;
        for (var i = 0; i < 300 && requests < 2; i++)
        {
            var (status, body) = await AdminAsync(client, HttpMethod.Get, url + "/admin/usage/summary?user=ro@example.com", null, token);
            Assert.Equal(HttpStatusCode.OK, status);
            requests = body.GetProperty("data").GetProperty("requests").GetInt64();
            if (requests < 2)
            {
                await Task.Delay(100);
            }
        }

        return requests;
    }
}
