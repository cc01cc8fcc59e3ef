using ApiGate.Core.Quotas;

namespace ApiGate.Core.Storage;

/// <summary>
/// Quota units a gateway counted on its own while Redis was unavailable to it (the <c>open</c> fallback, docs/scaling.md)
/// and could not add to the Redis counters before it stopped. The store keeps them until an instance that reaches Redis
/// takes them and adds them there: without it, the shared counters stayed short of everything that instance served
/// during the outage, for the rest of the month (the store holds those units, but a counter that exists is never seeded
/// from it again), and every instance admitted that much more.
/// </summary>
public interface IRedisHandoverStore
{
    /// <summary>
    /// Adds <paramref name="units"/> (each a user's units in one quota period, in <see cref="QuotaUsage.Used"/>; may be
    /// negative: units given back) to what is kept for the Redis data set <paramref name="dataSet"/> they were counted in.
    /// </summary>
    Task HandOverRedisUnitsAsync(string dataSet, IReadOnlyList<QuotaUsage> units, CancellationToken cancellationToken);

    /// <summary>
    /// Takes what was handed over for <paramref name="dataSet"/>: deleted and returned in one write, so two instances
    /// taking at once never both get a unit. Units of periods that started before <paramref name="expiredBefore"/> (whose
    /// Redis counters have expired) are deleted without being returned, whatever their data set.
    /// </summary>
    Task<IReadOnlyList<QuotaUsage>> TakeRedisUnitsAsync(string dataSet, DateTimeOffset expiredBefore, CancellationToken cancellationToken);
}
