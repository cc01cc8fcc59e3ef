using ApiGate.Core.Webhooks;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>webhook_endpoints</c>: event types comma-separated, the signing secret as stored (encrypted with a key).</summary>
internal sealed record WebhookEndpointRow
{
    public string Id { get; init; } = "";
    public string Url { get; init; } = "";
    public string Events { get; init; } = "";
    public string Description { get; init; } = "";
    public bool Enabled { get; init; }
    public string Secret { get; init; } = "";
    public string CreatedAt { get; init; } = "";
    public string UpdatedAt { get; init; } = "";

    public static WebhookEndpointRow From(WebhookEndpointDefinition e, Func<string, string> protect) => new()
    {
        Id = e.Id,
        Url = e.Url,
        Events = string.Join(',', e.Events),
        Description = e.Description,
        Enabled = e.Enabled,
        Secret = protect(e.Secret),
        CreatedAt = StoredValues.Time(e.CreatedAt),
        UpdatedAt = StoredValues.Time(e.UpdatedAt),
    };

    /// <summary>The endpoint without its secret (<see cref="WebhookEndpointDefinition.Secret"/> empty): only signing reads it.</summary>
    public WebhookEndpointDefinition ToDefinition() => new()
    {
        Id = Id,
        Url = Url,
        Events = Events.Split(',', StringSplitOptions.RemoveEmptyEntries),
        Description = Description,
        Enabled = Enabled,
        CreatedAt = StoredValues.Time(CreatedAt),
        UpdatedAt = StoredValues.Time(UpdatedAt),
    };
}
