namespace ApiGate.Core.Identity;

/// <summary>Lifecycle of a user; only <see cref="Active"/> users' keys are accepted.</summary>
public enum UserStatus
{
    Active,
    Pending,
    Suspended,
    Cancelled,
}

/// <summary>An API consumer. Immutable configuration record.</summary>
public sealed record UserDefinition
{
    public required string Id { get; init; }
    public required string Email { get; init; }
    public string Name { get; init; } = "";
    public required string PlanId { get; init; }
    public UserStatus Status { get; init; } = UserStatus.Active;
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}
