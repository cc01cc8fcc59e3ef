namespace ApiGate.Core.Usage;

/// <summary>Error answers with one status code (<c>429</c>; <c>5xx</c> for rows kept before codes were).</summary>
public sealed record ErrorCount(string Code, long Requests)
{
    /// <summary>The error answers of <paramref name="rows"/> by <see cref="UsageRollup.ErrorLabel"/>, most first, then by code.</summary>
    public static IReadOnlyList<ErrorCount> Of(IEnumerable<UsageRollup> rows)
    {
        var byCode = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (row.ErrorLabel is { } code)
            {
                byCode[code] = byCode.GetValueOrDefault(code) + row.Requests;
            }
        }

        return MostFirst(byCode);
    }

    /// <summary>The counts by <see cref="UsageRollup.ErrorLabel"/>, most first, then by code.</summary>
    public static IReadOnlyList<ErrorCount> MostFirst(IReadOnlyDictionary<string, long> byCode) =>
        [.. byCode.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).Select(c => new ErrorCount(c.Key, c.Value))];
}
