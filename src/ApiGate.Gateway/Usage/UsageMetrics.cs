using System.Diagnostics.Metrics;
using ApiGate.Gateway.Observability;

namespace ApiGate.Gateway.Usage;

/// <summary>The usage queue on the <c>ApiGate</c> meter: events waiting to be written, and events dropped.</summary>
internal sealed class UsageMetrics
{
    public UsageMetrics(IMeterFactory meterFactory, UsageRecorder usage)
    {
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        meter.CreateObservableGauge("apigate.usage.queue.depth", () => (long)usage.QueueDepth, description: "Usage events waiting to be written to the store.");
        meter.CreateObservableCounter("apigate.usage.events.dropped", () => usage.Dropped, description: "Usage events dropped (queue full or store writes failing).");
    }
}
