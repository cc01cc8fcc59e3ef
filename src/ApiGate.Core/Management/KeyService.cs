using System.Globalization;
using ApiGate.Core.Identity;
using ApiGate.Core.Text;
using ApiGate.Core.Storage;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>API keys: created (the full key returned once), listed and revoked; never edited.</summary>
public sealed class KeyService(IIdentityStore store, TimeProvider timeProvider, string keyPrefix = "ak_")
{
    public Task<IReadOnlyList<ApiKeyDefinition>> ListAsync(string? userId, CancellationToken ct) => store.ListKeysAsync(userId, ct);

    /// <summary>
    /// One page of the keys (one user's when <paramref name="userId"/> is given), newest first: after the first
    /// <paramref name="offset"/>, or right after <paramref name="after"/> when given.
    /// </summary>
    public Task<StorePage<ApiKeyDefinition>> ListPageAsync(string? userId, long offset, int count, CancellationToken ct, ListCursor? after = null) =>
        store.ListKeysPageAsync(userId, (int)Math.Min(offset, int.MaxValue), after, count, ct);

    public async Task<ManagementResult<CreatedKey>> CreateAsync(KeyChanges input, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(input.User))
        {
            return Invalid("user", "user is required (id or email)");
        }

        if ((TextFields.Check("name", input.Name) ?? TextFields.CheckInvisible("name", input.Name)) is { } nameProblem)
        {
            return nameProblem;
        }

        var user = await store.FindUserAsync(input.User, ct);
        if (user is null)
        {
            return Invalid("user", $"unknown user '{input.User}'");
        }

        if (user.Status != UserStatus.Active)
        {
            // Its requests would be refused (403 user_suspended) from the first: a key made now is a mistake, or made too early.
            return new ManagementError(ManagementErrorKind.Conflict, "user",
                $"user '{user.Email}' is {user.Status.ToString().ToLowerInvariant()}; the gateway refuses its keys, so activate the user first");
        }

        var now = timeProvider.GetUtcNow();
        if (input.ExpiresAt <= now)
        {
            return Invalid("expires", "expiry must be in the future");
        }

        var fullKey = ApiKeys.Generate(keyPrefix);
        var key = new ApiKeyDefinition
        {
            Id = Ids.New("key"),
            Name = input.Name?.Trim() ?? "",
            UserId = user.Id,
            Prefix = ApiKeys.PrefixOf(fullKey),
            Hash = ApiKeys.Hash(fullKey),
            ExpiresAt = input.ExpiresAt,
            CreatedAt = now,
        };
        var written = await WriteAsync(key, (k, c) => store.CreateKeyAsync(k, c, input.MaxActiveKeys), ct);
        return written.Error ?? new ManagementResult<CreatedKey>(new CreatedKey(key, fullKey), null);
    }

    public async Task<ManagementResult<ApiKeyDefinition>> GetAsync(string id, CancellationToken ct) =>
        await store.FindKeyAsync(id, ct) is { } key ? key : NotFound("key", id);

    public async Task<ManagementResult<ApiKeyDefinition>> RevokeAsync(string id, CancellationToken ct)
    {
        var existing = await store.FindKeyAsync(id, ct);
        if (existing is null)
        {
            return NotFound("key", id);
        }

        await store.RevokeKeyAsync(id, timeProvider.GetUtcNow(), ct);
        return (await store.FindKeyAsync(id, ct))!;
    }

    /// <summary>Parses an expiry: ISO 8601 date/date-time (UTC unless an offset is given) or a duration from now (<c>30d</c>, <c>12h</c>).</summary>
    public static bool TryParseExpiry(string text, DateTimeOffset now, out DateTimeOffset at) => TryParseExpiry(text, now, out at, out _);

    /// <summary>
    /// The same, and whether a duration that is a number of days, hours, minutes or seconds, or a date-time late on
    /// 9999-12-31 with an offset behind UTC, would end past the calendar's end — a duration or a date, not a malformed
    /// value, so the caller can say what is wrong with it.
    /// </summary>
    public static bool TryParseExpiry(string text, DateTimeOffset now, out DateTimeOffset at, out bool pastCalendarEnd)
    {
        pastCalendarEnd = false;
        try
        {
            text = text.Trim();
            if (TryParseExpiryCore(text, now, out at))
            {
                return true;
            }

            // 9999-12-31T23:00-05:00 is a date, but in UTC it falls in year 10000, which no DateTimeOffset holds: the same
            // ahead of UTC (+05:00) reads, so the date and the offset are well-formed.
            pastCalendarEnd = text.Length > 6 && text[^6] == '-'
                && TryParseExpiryCore(string.Concat(text.AsSpan(0, text.Length - 6), "+", text.AsSpan(text.Length - 5)), now, out _);
            return false;
        }
        catch (Exception ex) when (ex is ArgumentOutOfRangeException or OverflowException)
        {
            at = default; // e.g. 99999999d
            pastCalendarEnd = true;
            return false;
        }
    }

    /// <summary>
    /// True when <paramref name="text"/> is a duration of hours, minutes or seconds that is not a whole number of
    /// milliseconds (<c>0.0001s</c>, <c>1.0000001h</c>): the rule of every other duration, which is kept in milliseconds.
    /// </summary>
    public static bool HasFractionOfAMillisecond(string text)
    {
        text = text.Trim();
        if (text.Length < 2 || text[^1] is not ('h' or 'm' or 's')
            || !decimal.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }

        var milliseconds = amount * (text[^1] switch { 'h' => 3_600_000m, 'm' => 60_000m, _ => 1000m });
        return milliseconds != decimal.Truncate(milliseconds);
    }

    /// <summary>
    /// True when <paramref name="text"/> is an ISO 8601 date-time whose seconds have digits past the millisecond that are
    /// not zero (<c>2027-01-31T12:00:00.0000001Z</c>): the expiry is kept to the millisecond, so they would be cut.
    /// </summary>
    public static bool IsDateFinerThanAMillisecond(string text) =>
        DateTimeOffset.TryParseExact(text.Trim(), IsoDates, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
        && at.UtcTicks % TimeSpan.TicksPerMillisecond != 0;

    private static bool TryParseExpiryCore(string text, DateTimeOffset now, out DateTimeOffset at)
    {
        // Days as a double, so that a count past int's range is still read as days (and found past the calendar's end).
        if (text.EndsWith('d') && double.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var days))
        {
            at = now.AddDays(days);
            return true;
        }

        if (text.Length > 1 && text[^1] is 'h' or 'm' or 's'
            && double.TryParse(text[..^1], NumberStyles.None | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            at = now + (text[^1] switch { 'h' => TimeSpan.FromHours(amount), 'm' => TimeSpan.FromMinutes(amount), _ => TimeSpan.FromSeconds(amount) });
            return true;
        }

        // ISO 8601 only: 1/2/2027 or "Jan 5 2027" would be read month first, which half the world writes the other way.
        return DateTimeOffset.TryParseExact(text, IsoDates, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out at);
    }

    /// <summary>The forms of an absolute expiry: a date (midnight UTC) or a date-time with an optional <c>Z</c> or offset.</summary>
    private static readonly string[] IsoDates =
    [
        "yyyy-MM-dd",
        "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd HH:mmK", "yyyy-MM-dd HH:mm:ssK", "yyyy-MM-dd HH:mm:ss.FFFFFFFK",
    ];
}
