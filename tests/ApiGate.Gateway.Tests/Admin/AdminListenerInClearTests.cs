using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// The start-up warnings for an admin API served in plain HTTP where other machines reach it: on the admin listener
/// (event 7032) or on the main port (event 7033). The decision over the settings, for addresses a test may not bind.
/// A started gateway on loopback logs neither (<see cref="AdminListenerTests"/>, <see cref="MainPortInClearTests"/>,
/// and Tls/TlsTests with <c>admin.tls</c> off).
/// </summary>
public sealed class AdminListenerInClearTests
{
    private const string TurnAdminTlsOn = "set admin.tls (APIGATE_ADMIN_TLS) to true";
    private const string TurnTlsOn = "turn TLS on (tls.cert_file and tls.key_file, or tls.cert_dir";

    [Theory]
    // Every interface, or one other machines reach: plain HTTP there is named, with the setting that ends it
    [InlineData("0.0.0.0:9091", true, false, TurnAdminTlsOn)]
    [InlineData("*:9091", true, false, TurnAdminTlsOn)]
    [InlineData("[::]:9091", true, false, TurnAdminTlsOn)]
    [InlineData("10.0.0.5:9091", true, false, TurnAdminTlsOn)]
    [InlineData("192.168.1.20:0", true, false, TurnAdminTlsOn)]
    [InlineData("[fd00::5]:9091", true, false, TurnAdminTlsOn)]
    [InlineData("[::ffff:10.0.0.5]:9091", true, false, TurnAdminTlsOn)]
    [InlineData("128.0.0.1:9091", true, false, TurnAdminTlsOn)] // just past 127.0.0.0/8
    [InlineData("0.0.0.0:9091", false, true, TurnTlsOn)]         // no certificates: admin.tls alone cannot help
    [InlineData("10.0.0.5:9091", false, false, TurnTlsOn)]
    // TLS served: nothing in clear
    [InlineData("0.0.0.0:9091", true, true, null)]
    [InlineData("10.0.0.5:9091", true, true, null)]
    // Loopback: nothing crosses a network, whatever TLS does
    [InlineData("127.0.0.1:9091", true, false, null)]
    [InlineData("127.0.0.1:0", false, true, null)]
    [InlineData("127.9.8.7:9091", false, false, null)]
    [InlineData("[::1]:9091", false, false, null)]
    [InlineData("localhost:9091", false, false, null)]
    [InlineData("LOCALHOST:9091", true, false, null)]
    [InlineData("[::ffff:127.0.0.1]:9091", false, false, null)]
    public void ClearTextRemedy_AddressAndTlsSettings_NamesTheSettingOnlyForPlainHttpOffLoopback(string listen, bool tlsConfigured, bool adminTls, string? remedy)
    {
        // Arrange
        Assert.True(AdminListenAddress.TryParse(listen, out var address, out var problem), problem);

        // Act
        var found = AdminListener.ClearTextRemedy(address!, tlsConfigured, adminTls);

        // Assert
        if (remedy is null)
        {
            Assert.Null(found);
        }
        else
        {
            Assert.NotNull(found);
            Assert.StartsWith(remedy, found, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void WarnIfInClear_PlainHttpOnEveryInterface_OneWarning7032NamingTheAddressAndTheSettings()
    {
        // Arrange
        var logger = new RecordingLogger<AdminListener>();
        Assert.True(AdminListenAddress.TryParse("0.0.0.0:9091", out var address, out _));

        // Act
        AdminListener.WarnIfInClear(logger, address!, address!.Url(9091), tlsConfigured: true, adminTls: false);

        // Assert
        var (eventId, level, message) = Assert.Single(logger.Entries);
        Assert.Equal((7032, LogLevel.Warning), (eventId, level));
        Assert.Equal(
            "The admin listener http://0.0.0.0:9091 serves plain HTTP on an address other than loopback: admin tokens and the console's session cookie " +
            "cross the network in clear; set admin.tls (APIGATE_ADMIN_TLS) to true, or bind admin.listen (APIGATE_ADMIN_LISTEN) to 127.0.0.1 or [::1]",
            message);
    }

    [Fact]
    public void WarnIfInClear_WithoutCertificates_TheWarningNamesTheTlsSettings()
    {
        // Arrange
        var logger = new RecordingLogger<AdminListener>();
        Assert.True(AdminListenAddress.TryParse("[::]:9091", out var address, out _));

        // Act
        AdminListener.WarnIfInClear(logger, address!, address!.Url(9091), tlsConfigured: false, adminTls: true);

        // Assert
        var (eventId, _, message) = Assert.Single(logger.Entries);
        Assert.Equal(7032, eventId);
        Assert.Contains("The admin listener http://[::]:9091 serves plain HTTP", message, StringComparison.Ordinal);
        Assert.Contains("turn TLS on (tls.cert_file and tls.key_file, or tls.cert_dir: APIGATE_TLS_CERT_FILE, APIGATE_TLS_KEY_FILE, APIGATE_TLS_CERT_DIR)",
            message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:9091")]
    [InlineData("[::1]:9091")]
    [InlineData("localhost:9091")]
    public void WarnIfInClear_PlainHttpOnLoopback_LogsNothing(string listen)
    {
        // Arrange
        var logger = new RecordingLogger<AdminListener>();
        Assert.True(AdminListenAddress.TryParse(listen, out var address, out _));

        // Act
        AdminListener.WarnIfInClear(logger, address!, address!.Url(9091), tlsConfigured: true, adminTls: false);

        // Assert
        Assert.Empty(logger.Entries);
    }

    private const string MoveAdminApi = "serve it on a listener of its own with admin.listen (APIGATE_ADMIN_LISTEN), e.g. 127.0.0.1:9091, which the main port then answers with 404";
    private const string BindLoopback = ", or bind server.host (APIGATE_SERVER_HOST) to 127.0.0.1 or ::1";
    private const string OrTurnTlsOn = ", or turn TLS on (tls.cert_file and tls.key_file, or tls.cert_dir: APIGATE_TLS_CERT_FILE, APIGATE_TLS_KEY_FILE, APIGATE_TLS_CERT_DIR)";
    private const string OrUnsetH2c = ", or unset server.h2c_port (APIGATE_SERVER_H2C_PORT), whose port serves it in plain HTTP whatever TLS does";

    [Theory]
    // The main port in plain HTTP where other machines reach it (0.0.0.0 is server.host's default)
    [InlineData("0.0.0.0", false, false, MoveAdminApi + OrTurnTlsOn + BindLoopback)]
    [InlineData("*", false, false, MoveAdminApi + OrTurnTlsOn + BindLoopback)]
    [InlineData("", false, false, MoveAdminApi + OrTurnTlsOn + BindLoopback)]
    [InlineData("::", false, false, MoveAdminApi + OrTurnTlsOn + BindLoopback)]
    [InlineData("[::]", false, true, MoveAdminApi + OrTurnTlsOn + BindLoopback)]
    [InlineData("192.168.1.20", false, false, MoveAdminApi + OrTurnTlsOn + BindLoopback)]
    [InlineData("fd00::5", false, false, MoveAdminApi + OrTurnTlsOn + BindLoopback)]
    [InlineData("[::ffff:10.0.0.5]", false, false, MoveAdminApi + OrTurnTlsOn + BindLoopback)]
    [InlineData("128.0.0.1", false, false, MoveAdminApi + OrTurnTlsOn + BindLoopback)] // just past 127.0.0.0/8
    // TLS on the main port, but the h2c port beside it is always plain HTTP and serves the admin API too
    [InlineData("0.0.0.0", true, true, MoveAdminApi + OrUnsetH2c + BindLoopback)]
    // TLS and no h2c port: nothing in clear
    [InlineData("0.0.0.0", true, false, null)]
    [InlineData("10.0.0.5", true, false, null)]
    // Loopback: nothing crosses a network, whatever TLS does
    [InlineData("127.0.0.1", false, false, null)]
    [InlineData("127.9.8.7", false, true, null)]
    [InlineData("::1", false, false, null)]
    [InlineData("[::1]", true, true, null)]
    [InlineData("localhost", false, false, null)]
    [InlineData("[::ffff:127.0.0.1]", false, false, null)]
    public void MainPortClearTextRemedy_HostAndTlsSettings_NamesTheSettingsOnlyForPlainHttpOffLoopback(string host, bool tlsConfigured, bool h2cPort, string? remedy)
    {
        // Act
        var found = AdminListener.MainPortClearTextRemedy(host, tlsConfigured, h2cPort);

        // Assert
        Assert.Equal(remedy, found);
    }

    [Fact]
    public void WarnIfMainPortInClear_DefaultHostWithoutCertificates_OneWarning7033NamingTheAddressAndTheSettings()
    {
        // Arrange: the defaults (server.host 0.0.0.0, no admin.listen, no certificates)
        var logger = new RecordingLogger<AdminListener>();
        var options = new GatewayOptions();

        // Act
        AdminListener.WarnIfMainPortInClear(logger, options, tlsConfigured: false, ["http://0.0.0.0:8080"]);

        // Assert
        var (eventId, level, message) = Assert.Single(logger.Entries);
        Assert.Equal((7033, LogLevel.Warning), (eventId, level));
        Assert.Equal(
            "The admin API at /admin is served on the main port, in plain HTTP at http://0.0.0.0:8080 on an address other than loopback: admin tokens " +
            "and the console's session cookie cross the network in clear; serve it on a listener of its own with admin.listen (APIGATE_ADMIN_LISTEN), " +
            "e.g. 127.0.0.1:9091, which the main port then answers with 404, or turn TLS on (tls.cert_file and tls.key_file, or tls.cert_dir: " +
            "APIGATE_TLS_CERT_FILE, APIGATE_TLS_KEY_FILE, APIGATE_TLS_CERT_DIR), or bind server.host (APIGATE_SERVER_HOST) to 127.0.0.1 or ::1",
            message);
    }

    [Theory]
    [InlineData(false, "http://0.0.0.0:8080 and http://0.0.0.0:8081")] // both ports plain
    [InlineData(true, "http://0.0.0.0:8081")]                           // the main port serves TLS: only the h2c port is named
    public void WarnIfMainPortInClear_WithAnH2cPort_NamesThePlainAddressesOnly(bool tlsConfigured, string urls)
    {
        // Arrange: the server's addresses, the main port's first, then the h2c port's, then the redirect listener's
        var logger = new RecordingLogger<AdminListener>();
        var options = new GatewayOptions { Host = "0.0.0.0", Port = 8080, H2cPort = 8081 };
        string[] addresses = [tlsConfigured ? "https://0.0.0.0:8080" : "http://0.0.0.0:8080", "http://0.0.0.0:8081", "http://0.0.0.0:8082"];

        // Act
        AdminListener.WarnIfMainPortInClear(logger, options, tlsConfigured, addresses);

        // Assert
        var (eventId, _, message) = Assert.Single(logger.Entries);
        Assert.Equal(7033, eventId);
        Assert.StartsWith($"The admin API at /admin is served on the main port, in plain HTTP at {urls} on an address other than loopback", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1", "", false)]            // loopback
    [InlineData("0.0.0.0", "", true)]               // TLS on the main port, no h2c port
    [InlineData("0.0.0.0", "127.0.0.1:9091", false)] // the admin API on a listener of its own (checked as event 7032)
    public void WarnIfMainPortInClear_LoopbackTlsOrAdminListener_LogsNothing(string host, string adminListen, bool tlsConfigured)
    {
        // Arrange
        var logger = new RecordingLogger<AdminListener>();
        var options = new GatewayOptions { Host = host, AdminListen = adminListen };

        // Act
        AdminListener.WarnIfMainPortInClear(logger, options, tlsConfigured, [(tlsConfigured ? "https://" : "http://") + host + ":8080"]);

        // Assert
        Assert.Empty(logger.Entries);
    }
}
