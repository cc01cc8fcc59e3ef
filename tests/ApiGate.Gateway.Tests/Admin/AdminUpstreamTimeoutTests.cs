using System.Net;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// An upstream's timeout is kept in whole milliseconds and a bare number is milliseconds (docs/admin-api.md): a value
/// with a fraction of a millisecond is refused naming the field, never cut to a whole number (<c>0.4</c> would become
/// 0, "the gateway default"), and a duration with a unit is converted exactly.
/// </summary>
public sealed class AdminUpstreamTimeoutTests : AdminTestBase
{
    [Theory]
    [InlineData("""{"name":"tf1","url":"http://127.0.0.1:19250","timeout":0.4}""", "/timeout", "'0.4'")]
    [InlineData("""{"name":"tf2","url":"http://127.0.0.1:19250","timeout_ms":2.9}""", "/timeout_ms", "'2.9'")]
    [InlineData("""{"name":"tf3","url":"http://127.0.0.1:19250","timeout":"2.9ms"}""", "/timeout", "'2.9ms'")]
    [InlineData("""{"name":"tf4","url":"http://127.0.0.1:19250","timeout":"1.0005s"}""", "/timeout", "'1.0005s'")]
    [InlineData("""{"data":{"name":"tf5","url":"http://127.0.0.1:19250","timeout":"0.4"}}""", "/data/timeout", "'0.4'")]
    public async Task Create_TimeoutWithAFractionOfAMillisecond_422NamingTheField_NothingStored(string body, string pointer, string quoted)
    {
        // Act
        var response = await PostAsync("/upstreams", body);

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
        var detail = error.GetProperty("detail").GetString()!;
        Assert.StartsWith(quoted + " has a fraction of a millisecond: the timeout must be a whole number of milliseconds", detail, StringComparison.Ordinal);
        Assert.Contains("or a duration such as 30s", detail, StringComparison.Ordinal);
        Assert.Equal(0, AssertData(await GetAsync("/upstreams")).GetArrayLength());
    }

    [Theory]
    [InlineData("\"0.4s\"", 400)]
    [InlineData("\"1.5s\"", 1_500)]
    [InlineData("\"0.29s\"", 290)]
    [InlineData("\"2.0\"", 2)]
    [InlineData("2500", 2_500)]
    [InlineData("\"1500ms\"", 1_500)]
    public async Task Create_TimeoutOfWholeMilliseconds_StoredExactly(string timeout, int expectedMs)
    {
        // Act
        var response = await PostAsync("/upstreams", $$"""{"name":"exact","url":"http://127.0.0.1:19250","timeout":{{timeout}}}""");

        // Assert
        Assert.Equal(expectedMs, AssertData(response, HttpStatusCode.Created).GetProperty("timeout_ms").GetInt32());
    }

    [Fact]
    public async Task Update_TimeoutWithAFraction_422_TheStoredTimeoutIsKept()
    {
        // Arrange
        var id = AssertData(await PostAsync("/upstreams", new { name = "kept", url = "http://127.0.0.1:19250", timeout = "5s" }), HttpStatusCode.Created)
            .GetProperty("id").GetString();

        // Act
        var response = await PatchAsync("/upstreams/" + id, """{"timeout_ms":0.4}""");

        // Assert
        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/timeout_ms");
        Assert.Equal(5_000, AssertData(await GetAsync("/upstreams/" + id)).GetProperty("timeout_ms").GetInt32());
    }

    [Fact]
    public async Task Create_HealthCheckTimeoutWithAFraction_422PointingIntoTheObject()
    {
        // Act
        var response = await PostAsync("/upstreams", """{"name":"hc","url":"http://127.0.0.1:19250","health_check":{"path":"/healthz","timeout":150.5}}""");

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/health_check/timeout");
        Assert.StartsWith("'150.5' has a fraction of a millisecond", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
