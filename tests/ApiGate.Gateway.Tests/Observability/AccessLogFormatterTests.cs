using System.Text;
using System.Text.Json;
using ApiGate.Gateway.Observability;

namespace ApiGate.Gateway.Tests.Observability;

public sealed class AccessLogFormatterTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 43, 56, 301, TimeSpan.Zero);

    [Fact]
    public void WriteJson_Entry_OneParsableLineWithEveryField()
    {
        // Arrange: a path that needs escaping
        var entry = Entry("/orders/\"quoted\"/ünïcode\\x");
        var output = new StringBuilder();

        // Act
        AccessLogFormatter.WriteJson(entry, Now, output);

        // Assert
        var text = output.ToString();
        Assert.EndsWith("\n", text);
        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        Assert.Equal("2026-11-29T12:43:56.301Z", root.GetProperty("Timestamp").GetString());
        Assert.Equal(9001, root.GetProperty("EventId").GetInt32());
        Assert.Equal("Information", root.GetProperty("LogLevel").GetString());
        Assert.Equal("ApiGate.Access", root.GetProperty("Category").GetString());
        Assert.Equal("POST /orders/\"quoted\"/ünïcode\\x 201 3.112 ms", root.GetProperty("Message").GetString());
        var state = root.GetProperty("State");
        Assert.Equal(AccessLogEntry.Names, state.EnumerateObject().Select(p => p.Name));
        Assert.Equal("/orders/\"quoted\"/ünïcode\\x", state.GetProperty("Path").GetString());
        Assert.Equal(2, state.GetProperty("Attempts").GetInt32());
        Assert.Equal(201, state.GetProperty("Status").GetInt32());
        Assert.Equal(10, state.GetProperty("BytesIn").GetInt64());
        Assert.Equal(3.112, state.GetProperty("DurationMs").GetDouble());
        Assert.Equal("usr_1", state.GetProperty("UserId").GetString());
    }

    [Fact]
    public void WriteConsole_Entry_OneLineWithLevelCategoryAndFields()
    {
        // Arrange
        var output = new StringBuilder();

        // Act
        AccessLogFormatter.WriteConsole(Entry("/orders"), Now, output);

        // Assert
        Assert.Equal(
            "2026-11-29T12:43:56.301Z info: ApiGate.Access[9001] POST /orders 201 3.112 ms RequestId=req-1 Method=POST Path=/orders "
            + "Route=orders Upstream=backend Target=http://127.0.0.1:9000 Attempts=2 UserId=usr_1 KeyId=key_1 Status=201 BytesIn=10 "
            + "BytesOut=74 DurationMs=3.112 UpstreamMs=2.481 ClientIp=127.0.0.1 Error= TraceId=\n",
            output.ToString());
    }

    [Fact]
    public void WriteConsole_PathWithNewline_StaysOneLine()
    {
        // Arrange: a decoded %0A in the path trying to start a forged audit line
        var output = new StringBuilder();
        var forged = "/hello\n2026-11-29T14:00:00.000Z info: ApiGate.Admin[7020] DELETE /admin/users/x 204\r";

        // Act
        AccessLogFormatter.WriteConsole(Entry(forged), Now, output);

        // Assert
        var text = output.ToString();
        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain('\r', text);
        Assert.Contains("/hello\\u000A2026-11-29T14:00:00.000Z\\u0020info:\\u0020ApiGate.Admin", text);
    }

    [Fact]
    public void WriteConsole_PathWithLineSeparatorAndBidiOverride_EscapedLikeAControlCharacter()
    {
        // Arrange: a decoded %E2%80%A8 (a line break to many log viewers) starting a forged line, and a decoded %E2%80%AE
        // that would print the rest of the line backwards
        var output = new StringBuilder();
        var forged = "/hello\u20282026-11-29T14:00:00.000Z info: ApiGate.Admin[7020]\u202E402 sresu/nimda/ ETELED";

        // Act
        AccessLogFormatter.WriteConsole(Entry(forged), Now, output);

        // Assert
        var text = output.ToString();
        Assert.DoesNotContain('\u2028', text);
        Assert.DoesNotContain('\u202E', text);
        Assert.Contains("/hello\\u20282026-11-29T14:00:00.000Z\\u0020info:\\u0020ApiGate.Admin[7020]\\u202E402", text);
    }

    [Fact]
    public void WriteJson_PathWithLineSeparatorsAndBidiControls_WrittenAsUnicodeEscapesAndReadBackUnchanged()
    {
        // Arrange: a decoded %E2%80%A8 starting a forged line, a right-to-left override and an isolate, beside plain non-ASCII
        var output = new StringBuilder();
        var forged = "/ünï\u2028{\"EventId\":7020}\u2029\u202A\u202Bx\u202C\u202D\u202E402 sresu/nimda/\u2066\u2067\u2068\u2069";

        // Act
        AccessLogFormatter.WriteJson(Entry(forged), Now, output);

        // Assert
        var text = output.ToString();
        Assert.Contains("\"Path\":\"/ünï\\u2028{\\\"EventId\\\":7020}\\u2029\\u202A\\u202Bx\\u202C\\u202D\\u202E402 sresu/nimda/\\u2066\\u2067\\u2068\\u2069\"", text);
        Assert.DoesNotContain(text, c => c is '\u2028' or '\u2029' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069'));
        using var document = JsonDocument.Parse(text);
        Assert.Equal(forged, document.RootElement.GetProperty("State").GetProperty("Path").GetString());
        Assert.Equal("POST " + forged + " 201 3.112 ms", document.RootElement.GetProperty("Message").GetString());
    }

    [Fact]
    public void WriteConsole_PathWithSpacesAndQuotes_CannotAddOrHideFields()
    {
        // Arrange: a decoded %20 and %22 in the path trying to add fields to the line, or to open a quoted value that
        // swallows the fields after it in a logfmt reader
        var output = new StringBuilder();
        var forged = "/x Status=200 UserId=usr_admin Error= \"";

        // Act
        AccessLogFormatter.WriteConsole(Entry(forged), Now, output);

        // Assert: each field is one space-free Name=value token, each name once
        var line = output.ToString().TrimEnd('\n');
        var fields = line[(line.IndexOf(" RequestId=", StringComparison.Ordinal) + 1)..].Split(' ');
        Assert.Equal(AccessLogEntry.Names, fields.Select(f => f[..f.IndexOf('=')]));
        Assert.Contains("Path=/x\\u0020Status=200\\u0020UserId=usr_admin\\u0020Error=\\u0020\\u0022 ", line);
        Assert.Contains("POST /x\\u0020Status=200\\u0020UserId=usr_admin\\u0020Error=\\u0020\\u0022 201 3.112 ms RequestId=", line);
        Assert.DoesNotContain('"', line);
    }

    [Fact]
    public void Entry_AsStructuredState_ListsTheSameNamesAndValues()
    {
        // Arrange
        var entry = Entry("/orders");

        // Act
        var pairs = entry.ToList();

        // Assert
        Assert.Equal(AccessLogEntry.Names, pairs.Select(p => p.Key));
        Assert.Equal("req-1", pairs[0].Value);
        Assert.Equal(201, pairs[9].Value);
    }

    private static AccessLogEntry Entry(string path) => new()
    {
        RequestId = "req-1",
        Method = "POST",
        Path = path,
        Route = "orders",
        Upstream = "backend",
        Target = "http://127.0.0.1:9000",
        Attempts = 2,
        UserId = "usr_1",
        KeyId = "key_1",
        Status = 201,
        BytesIn = 10,
        BytesOut = 74,
        DurationMs = 3.112,
        UpstreamMs = 2.481,
        ClientIp = "127.0.0.1",
        Error = "",
        TraceId = "",
    };
}
