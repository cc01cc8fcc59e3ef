using ApiGate.Gateway.Portal;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>How <c>APIGATE_SMTP_URL</c> is read.</summary>
public sealed class SmtpEndpointTests
{
    [Fact]
    public void TryParse_SmtpWithEncodedPassword_StartTlsWhenOfferedAndPasswordMaskedInText()
    {
        // Act
        var ok = SmtpEndpoint.TryParse("smtp://mailer:p%40ss%3Aword@mail.example.com:2525", out var endpoint, out _);

        // Assert
        Assert.True(ok);
        Assert.Equal(new SmtpEndpoint("mail.example.com", 2525, ImplicitTls: false, "mailer", "p@ss:word"), endpoint);
        Assert.Equal("smtp://mailer:***@mail.example.com:2525", endpoint!.ToString());
    }

    [Theory]
    [InlineData("smtp://mail.example.com", 587, false)]
    [InlineData("smtps://mail.example.com", 465, true)]
    public void TryParse_NoPort_DefaultPortForScheme(string url, int port, bool implicitTls)
    {
        // Act
        var ok = SmtpEndpoint.TryParse(url, out var endpoint, out _);

        // Assert
        Assert.True(ok);
        Assert.Equal((port, implicitTls, (string?)null), (endpoint!.Port, endpoint.ImplicitTls, endpoint.User));
    }

    [Theory]
    [InlineData("http://mail.example.com", "must look like smtp://user:pass@host:port or smtps://user:pass@host:port")]
    [InlineData("mail.example.com:25", "must look like smtp://user:pass@host:port or smtps://user:pass@host:port")]
    [InlineData("smtp://u:secret@mail.example.com/inbox", "must not have a path or query")]
    public void TryParse_NotAnSmtpUrl_ProblemWithoutTheUrl(string url, string expected)
    {
        // Act
        var ok = SmtpEndpoint.TryParse(url, out _, out var problem);

        // Assert
        Assert.False(ok);
        Assert.Equal(expected, problem);
    }

    [Theory]
    [InlineData("smtp://mailer:secret@mail.example.com:0", "port 0 is not a port: give one from 1 to 65535, or none for the scheme's default (587 for smtp://, 465 for smtps://)")]
    [InlineData("smtps://mail.example.com:0", "port 0 is not a port: give one from 1 to 65535, or none for the scheme's default (587 for smtp://, 465 for smtps://)")]
    [InlineData("smtp://mailer:secret@mail.example.com:2525#relay", "must not have a fragment (#...); a # in the password is written %23")]
    [InlineData("smtp://mail.example.com#", "must not have a fragment (#...); a # in the password is written %23")]
    public void TryParse_PortZeroOrFragment_RefusedWithoutTheUrl(string url, string expected)
    {
        // Act
        var ok = SmtpEndpoint.TryParse(url, out var endpoint, out var problem);

        // Assert
        Assert.False(ok);
        Assert.Null(endpoint);
        Assert.Equal(expected, problem);
    }

    [Theory]
    [InlineData("smtp://mailer:pw@mail.example.com", "StartTls")]
    [InlineData("smtp://mailer:pw@192.0.2.10:2525", "StartTls")]
    [InlineData("smtp://mailer@mail.example.com", "StartTls")]
    [InlineData("smtp://mail.example.com", "StartTlsWhenAvailable")]
    [InlineData("smtp://mailer:pw@127.0.0.1:2525", "StartTlsWhenAvailable")]
    [InlineData("smtp://mailer:pw@127.8.9.10:2525", "StartTlsWhenAvailable")]
    [InlineData("smtp://mailer:pw@[::1]:2525", "StartTlsWhenAvailable")]
    [InlineData("smtp://mailer:pw@LOCALHOST:2525", "StartTlsWhenAvailable")]
    [InlineData("smtps://mailer:pw@mail.example.com", "SslOnConnect")]
    [InlineData("smtps://127.0.0.1", "SslOnConnect")]
    public void SocketOptions_PasswordToAnotherMachine_StartTlsRequiredNotOnlyWhenOffered(string url, string expected)
    {
        // Arrange
        Assert.True(SmtpEndpoint.TryParse(url, out var endpoint, out _));

        // Act
        var options = PortalMailQueue.SocketOptionsFor(endpoint!);

        // Assert
        Assert.Equal(expected, options.ToString());
    }
}
