using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// The start-up warning (event 7032) for an admin listener that serves plain HTTP where other machines reach it: the
/// decision over the settings, for addresses a test may not bind. A started gateway on loopback logs none
/// (<see cref="AdminListenerTests"/>, and Tls/TlsTests with <c>admin.tls</c> off).
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
}
