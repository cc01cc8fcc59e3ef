namespace ApiGate.Core.Balancing;

/// <summary>
/// Smooth weighted round robin (the interleaving nginx uses): over one cycle of <c>sum(weights)/gcd</c> picks, each
/// target appears exactly its share of times, and picks of a heavy target are spread out rather than bunched
/// (weights 5,1,1 give a a b a c a a, not a a a a a b c). The schedule is computed once per snapshot; picking is
/// then one atomic increment and an array read.
/// </summary>
public static class SmoothWeightedRoundRobin
{
    /// <summary>Upper bound on a schedule's length (64 targets of weight 1000 with no common divisor fit).</summary>
    public const int MaxCycle = 64_000;

    /// <summary>The target index for each position of one cycle.</summary>
    public static int[] Schedule(IReadOnlyList<int> weights)
    {
        if (weights.Count == 0)
        {
            throw new ArgumentException("at least one weight is needed", nameof(weights));
        }

        var divisor = 0;
        foreach (var weight in weights)
        {
            divisor = Gcd(divisor, Math.Max(1, weight));
        }

        var reduced = weights.Select(w => Math.Max(1, w) / divisor).ToArray();
        var total = reduced.Sum();
        if (total > MaxCycle)
        {
            throw new ArgumentException($"the weights' cycle ({total}) is longer than {MaxCycle}", nameof(weights));
        }

        var current = new long[reduced.Length];
        var schedule = new int[total];
        for (var step = 0; step < total; step++)
        {
            var best = 0;
            for (var i = 0; i < reduced.Length; i++)
            {
                current[i] += reduced[i];
                if (current[i] > current[best])
                {
                    best = i;
                }
            }

            current[best] -= total;
            schedule[step] = best;
        }

        return schedule;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}
