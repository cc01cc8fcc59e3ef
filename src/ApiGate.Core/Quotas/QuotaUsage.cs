namespace ApiGate.Core.Quotas;

/// <summary>Units used by one user in one quota period.</summary>
public readonly record struct QuotaUsage(string UserId, DateTimeOffset PeriodStart, long Used, long Overage);
