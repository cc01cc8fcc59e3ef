using System.Diagnostics.Metrics;
using ApiGate.Gateway.Observability;

namespace ApiGate.Gateway.Usage;

/// <summary>
/// Usage on the <c>ApiGate</c> meter: the ring's depth, events dropped, rows deleted by retention and the longest
/// transaction the compaction and retention job has held.
/// </summary>
internal sealed class UsageMetrics
{
    public UsageMetrics(IMeterFactory meterFactory, UsageRecorder usage, UsageMaintenance maintenance)
    {
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        meter.CreateObservableGauge("apigate.usage.queue.depth", () => (long)usage.QueueDepth, description: "Usage events waiting to be written to the store.");
        meter.CreateObservableCounter("apigate.usage.events.dropped", () => usage.Dropped, description: "Usage events dropped (queue full or store writes failing).");
        meter.CreateObservableCounter("apigate.usage.pruned", () => maintenance.Pruned, description: "Usage rows (raw events and rollups) deleted by retention.");
        meter.CreateObservableGauge("apigate.usage.maintenance.longest_transaction", () => maintenance.LongestTransaction.TotalSeconds, unit: "s",
            description: "The longest transaction the usage compaction and retention job has held since start.");
    }
}
