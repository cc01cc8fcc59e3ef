using System.Globalization;
using System.Text.Json.Nodes;
using ApiGate.Core.Identity;
using ApiGate.Core.Text;

namespace ApiGate.Core.Webhooks;

/// <summary>The <c>data</c> object of each event type (docs/webhooks.md shows them): snake_case, ids and times, never a key or secret.</summary>
public static class WebhookPayloads
{
    public static WebhookEvent UserCreated(UserDefinition user) =>
        WebhookEvent.Create(WebhookEventTypes.UserCreated, new JsonObject
        {
            ["user_id"] = user.Id,
            ["email"] = user.Email,
            ["name"] = user.Name,
            ["plan_id"] = user.PlanId,
            ["status"] = WireNames.Of(user.Status),
            ["created_at"] = Time(user.CreatedAt),
        }, user.Id, user.CreatedAt);

    public static WebhookEvent KeyCreated(ApiKeyDefinition key) =>
        WebhookEvent.Create(WebhookEventTypes.KeyCreated, new JsonObject
        {
            ["key_id"] = key.Id,
            ["user_id"] = key.UserId,
            ["name"] = key.Name,
            ["prefix"] = key.Prefix,
            ["expires_at"] = key.ExpiresAt is { } expires ? Time(expires) : null,
            ["created_at"] = Time(key.CreatedAt),
        }, key.UserId, key.CreatedAt);

    public static WebhookEvent KeyRevoked(ApiKeyDefinition key, DateTimeOffset revokedAt) =>
        WebhookEvent.Create(WebhookEventTypes.KeyRevoked, new JsonObject
        {
            ["key_id"] = key.Id,
            ["user_id"] = key.UserId,
            ["name"] = key.Name,
            ["prefix"] = key.Prefix,
            ["revoked_at"] = Time(revokedAt),
        }, key.UserId, revokedAt);

    public static WebhookEvent PlanChanged(UserDefinition user, string previousPlanId, DateTimeOffset at) =>
        WebhookEvent.Create(WebhookEventTypes.PlanChanged, new JsonObject
        {
            ["user_id"] = user.Id,
            ["email"] = user.Email,
            ["previous_plan_id"] = previousPlanId,
            ["plan_id"] = user.PlanId,
            ["changed_at"] = Time(at),
        }, user.Id, at);

    /// <summary><c>usage.threshold</c> or <c>usage.limit</c>: the user's use in the quota period that starts at <paramref name="periodStart"/>.</summary>
    public static WebhookEvent Usage(string type, string userId, string planId, DateTimeOffset periodStart, long quota, long used, double? threshold, DateTimeOffset at)
    {
        var data = new JsonObject
        {
            ["user_id"] = userId,
            ["plan_id"] = planId,
            ["period_start"] = Time(periodStart),
            ["quota"] = quota,
            ["used"] = used,
        };
        if (threshold is { } share)
        {
            data["threshold"] = share;
        }

        return WebhookEvent.Create(type, data, userId, at);
    }

    public static WebhookEvent Test(string endpointId, DateTimeOffset at) =>
        WebhookEvent.Create(WebhookEventTypes.Test, new JsonObject
        {
            ["endpoint_id"] = endpointId,
            ["message"] = "test event from APIGate",
        }, null, at);

    /// <summary>UTC, millisecond precision, <c>Z</c>: what every time in a payload looks like.</summary>
    public static string Time(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
