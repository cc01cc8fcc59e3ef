namespace ApiGate.Core.Storage;

/// <summary>
/// A row's <c>updated_at</c> is its version: an update is written only while the row still has the one the writer read
/// (<see cref="StoreChangedMeanwhileException"/> otherwise).
/// </summary>
public static class RowVersion
{
    /// <summary>
    /// The <c>updated_at</c> of a row changed now that was last changed at <paramref name="readAt"/>: the clock's time,
    /// or a tick later when the clock has not moved on (a coarse or fake clock), since an update that would store the
    /// time it read could not be told from an unchanged row by the next writer's check.
    /// </summary>
    public static DateTimeOffset ChangedAt(TimeProvider clock, DateTimeOffset readAt) => ChangedAt(clock.GetUtcNow(), readAt);

    /// <summary>The <c>updated_at</c> of a row changed at <paramref name="now"/> that was last changed at <paramref name="readAt"/>.</summary>
    public static DateTimeOffset ChangedAt(DateTimeOffset now, DateTimeOffset readAt) => now == readAt ? readAt.AddTicks(1) : now;

    /// <summary>
    /// The row's version as a strong HTTP entity tag (quoted, as sent in <c>ETag</c>): the ticks of its stored
    /// <c>updated_at</c> in base 16. Opaque to clients; it changes with every update.
    /// </summary>
    public static string Tag(DateTimeOffset updatedAt) =>
        "\"" + updatedAt.UtcTicks.ToString("x", System.Globalization.CultureInfo.InvariantCulture) + "\"";
}
