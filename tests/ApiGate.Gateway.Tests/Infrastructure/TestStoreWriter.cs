using System.Diagnostics.Metrics;
using ApiGate.Gateway.Observability;
using ApiGate.Gateway.Persistence;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>A real <see cref="StoreWriter"/> (its own thread) for tests that build recorders without a gateway.</summary>
internal static class TestStoreWriter
{
    public static StoreWriter Create(TimeProvider? timeProvider = null, ILoggerProvider? logs = null) =>
        new(new StoreMetrics(new TestMeterFactory()), timeProvider ?? TimeProvider.System,
            logs is null ? NullLogger<StoreWriter>.Instance : new Logger<StoreWriter>(new LoggerFactory([logs])));

    private sealed class TestMeterFactory : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }
}
