namespace ApiGate.Gateway.Limits;

/// <summary>
/// The server-side scripts of the Redis limits. Each runs atomically in Redis, so instances never interleave a
/// read-modify-write. Every key one script touches carries the user id as its hash tag (<c>apigate:{usr_…}:…</c>), so in
/// Redis Cluster the script runs on one shard.
/// </summary>
internal static class RedisLimitScripts
{
    /// <summary>Reply of <see cref="Admit"/> when the quota counter does not exist and no seed was passed.</summary>
    public const long NeedsSeed = -1;

    /// <summary>
    /// Reply of <see cref="Admit"/> when the quota counter holds something other than a whole number (written by
    /// something else) and no seed was passed: it is replaced from the seed, like a missing one. Nothing was taken yet.
    /// </summary>
    public const long BrokenCounterNeedsSeed = -3;

    public const long Admitted = 0;

    public const long RateLimited = 1;

    public const long QuotaExceeded = 2;

    /// <summary>
    /// Reply of <see cref="Admit"/> given <see cref="Unseedable"/>: the bucket's token was taken, the quota is left to
    /// the instance (the counter is missing and the store cannot say what it should start from).
    /// </summary>
    public const long QuotaLeftToTheInstance = 3;

    /// <summary>The seed argument when the store cannot give one: decide the bucket only.</summary>
    public const long Unseedable = -2;

    /// <summary>
    /// Admission: the key's token bucket, then one unit of the user's monthly quota.
    /// KEYS[1] the bucket (hash: t = tokens, u = last update in ms), KEYS[2] the month's counter.
    /// ARGV: [1] now (unix ms), [2] tokens per second, [3] capacity (0: no bucket), [4] bucket idle expiry (ms),
    /// [5] quota limit (0: unlimited, counted only), [6] overage allowed (1/0), [7] seed (-1: unknown; -2: the store
    /// cannot give one, so only the bucket is decided here), [8] counter expiry (unix s).
    /// Reply: {status, tokens left (text, "-1" without a bucket), units used, over (1/0)}; {-1} asks for a seed.
    /// A missing counter is created from the seed only here, inside the script, so two instances that both saw it
    /// missing cannot both seed it: the second one finds it and counts on top. A counter that is not a whole number
    /// (<c>1.5</c>, text: another program wrote it) is replaced from the seed the same way, before anything is taken,
    /// so <c>INCRBY</c> cannot fail after the bucket's token was taken; {-3} asks for the seed and says why.
    /// </summary>
    public const string Admit = """
        local raw = redis.call('GET', KEYS[2])
        local used = nil
        if raw and string.match(raw, '^%-?%d+$') then used = tonumber(raw) end
        if not used then
          local seed = tonumber(ARGV[7])
          if seed == -1 then
            if raw then return {-3} end
            return {-1}
          end
          if seed >= 0 then
            redis.call('SET', KEYS[2], seed, 'EXAT', ARGV[8])
            used = seed
          end
        end
        local capacity = tonumber(ARGV[3])
        local tokens = -1
        if capacity > 0 then
          local now = tonumber(ARGV[1])
          local state = redis.call('HMGET', KEYS[1], 't', 'u')
          tokens = tonumber(state[1])
          local updated = tonumber(state[2])
          if not tokens then
            tokens = capacity
            updated = now
          else
            if now > updated then
              tokens = tokens + (now - updated) * tonumber(ARGV[2]) / 1000
              updated = now
            end
            if tokens > capacity then tokens = capacity end
          end
          local allowed = tokens >= 1
          if allowed then tokens = tokens - 1 end
          redis.call('HSET', KEYS[1], 't', tokens, 'u', updated)
          redis.call('PEXPIRE', KEYS[1], ARGV[4])
          if not allowed then return {1, tostring(tokens), used or 0, 0} end
        end
        if not used then return {3, tostring(tokens), 0, 0} end
        local limit = tonumber(ARGV[5])
        local over = 0
        if limit > 0 and used + 1 > limit then
          if ARGV[6] ~= '1' then return {2, tostring(tokens), used, 0} end
          over = 1
        end
        used = redis.call('INCRBY', KEYS[2], 1)
        return {0, tostring(tokens), used, over}
        """;

    /// <summary>
    /// Settlement (and the units counted locally during an outage): adds ARGV[1] (may be negative) to the counter
    /// KEYS[1] only if it exists and holds a whole number. A counter that is gone (Redis lost its data) or broken is
    /// seeded again from the store by the next admission, and the store records every unit with its usage event, so
    /// adding them as well would count them twice. Reply: the new total or nil.
    /// </summary>
    public const string Add = """
        local raw = redis.call('GET', KEYS[1])
        if raw and string.match(raw, '^%-?%d+$') then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
        return false
        """;

    /// <summary>
    /// Replaces a data-set name key that something else overwrote with a key of another type: KEYS[1] the key, ARGV[1]
    /// a new name. Reply: the name now there. One script, so an instance that saw the broken key after another replaced
    /// it adopts that name instead of deleting it (each would otherwise take the other's name for a second data loss).
    /// </summary>
    public const string ReplaceBrokenDataSet = """
        if redis.call('TYPE', KEYS[1]).ok ~= 'string' then redis.call('DEL', KEYS[1]) end
        redis.call('SET', KEYS[1], ARGV[1], 'NX')
        return redis.call('GET', KEYS[1])
        """;
}
