namespace ApiGate.Core.Usage;

/// <summary>The width of a usage rollup's time bucket; the value is the width in seconds, as stored.</summary>
public enum UsageGranularity
{
    Minute = 60,
    Hour = 3600,
    Day = 86400,
}
