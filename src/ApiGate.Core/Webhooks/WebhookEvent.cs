using System.Text.Json;
using System.Text.Json.Nodes;
using ApiGate.Core.Text;

namespace ApiGate.Core.Webhooks;

/// <summary>
/// One event in the outbox: its id (sent as <c>webhook-id</c>, the same on every attempt, so receivers can drop
/// duplicates) and the exact body every endpoint receives.
/// </summary>
/// <param name="Id">A <c>msg_…</c> id.</param>
/// <param name="Type">One of <see cref="WebhookEventTypes"/>.</param>
/// <param name="UserId">The user the event is about, or null.</param>
/// <param name="Body">The JSON sent: <c>{"type": …, "timestamp": …, "data": {…}}</c>.</param>
/// <param name="CreatedAt">When it happened.</param>
public sealed record WebhookEvent(string Id, string Type, string? UserId, string Body, DateTimeOffset CreatedAt)
{
    private static readonly JsonSerializerOptions BodyOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A new event with a fresh id and the Standard Webhooks envelope around <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="type"/> is not one of <see cref="WebhookEventTypes"/>.</exception>
    public static WebhookEvent Create(string type, JsonObject data, string? userId, DateTimeOffset now)
    {
        if (!WebhookEventTypes.IsKnown(type))
        {
            throw new ArgumentException($"'{type}' is not a webhook event type", nameof(type));
        }

        var envelope = new JsonObject
        {
            ["type"] = type,
            ["timestamp"] = WebhookPayloads.Time(now),
            ["data"] = data.DeepClone(),
        };
        return new WebhookEvent(Ids.New("msg"), type, userId, envelope.ToJsonString(BodyOptions), now);
    }
}
