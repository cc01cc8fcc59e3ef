using ApiGate.Core.Identity;
using ApiGate.Core.Text;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>users</c>.</summary>
internal sealed record UserRow
{
    public string Id { get; init; } = "";
    public string Email { get; init; } = "";
    public string Name { get; init; } = "";
    public string PlanId { get; init; } = "";
    public string Status { get; init; } = "";
    public string CreatedAt { get; init; } = "";
    public string UpdatedAt { get; init; } = "";

    /// <summary>The mailbox the address names (<see cref="Emails.Key"/>), written with every address so a look-up by any spelling finds the user.</summary>
    public string EmailKey { get; init; } = "";

    public static UserRow From(UserDefinition u) => new()
    {
        Id = u.Id,
        Email = u.Email,
        Name = u.Name,
        PlanId = u.PlanId,
        Status = StoredValues.Enum(u.Status),
        CreatedAt = StoredValues.Time(u.CreatedAt),
        UpdatedAt = StoredValues.Time(u.UpdatedAt),
        EmailKey = Emails.Key(u.Email),
    };

    public UserDefinition ToDefinition() => new()
    {
        Id = Id,
        Email = Email,
        Name = Name,
        PlanId = PlanId,
        Status = StoredValues.Enum<UserStatus>(Status),
        CreatedAt = StoredValues.Time(CreatedAt),
        UpdatedAt = StoredValues.Time(UpdatedAt),
    };
}
