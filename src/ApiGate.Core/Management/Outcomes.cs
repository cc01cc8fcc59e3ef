using ApiGate.Core.Storage;

namespace ApiGate.Core.Management;

/// <summary>Shared helpers of the management services: error values and the write-or-conflict step.</summary>
internal static class Outcomes
{
    public static ManagementError Invalid(string field, string message) => new(ManagementErrorKind.Validation, field, message);

    public static ManagementError NotFound(string kind, string reference) => new(ManagementErrorKind.NotFound, "", $"no {kind} with id or name '{reference}'");

    /// <summary>Runs the store write; a uniqueness or in-use refusal becomes a conflict error.</summary>
    public static async Task<ManagementResult<T>> WriteAsync<T>(T value, Func<T, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        try
        {
            await write(value, cancellationToken);
            return value;
        }
        catch (StoreConflictException ex)
        {
            return new ManagementError(ManagementErrorKind.Conflict, ex.Field, ex.Message);
        }
    }
}
