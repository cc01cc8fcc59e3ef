namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>route_auth</c>: the credential a route accepts, present only when it is not the default (an API key).</summary>
internal sealed record RouteAuthRow
{
    public string Id { get; init; } = "";
    public string Scheme { get; init; } = "";
}
