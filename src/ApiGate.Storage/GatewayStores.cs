using ApiGate.Core.Storage;
using ApiGate.Storage.Postgres;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;
using ApiGate.Storage.Sqlite;

namespace ApiGate.Storage;

/// <summary>Creates the store <c>APIGATE_DATABASE_DRIVER</c> names, on <c>APIGATE_DATABASE_DSN</c>.</summary>
public static class GatewayStores
{
    /// <summary>The embedded default: one SQLite file.</summary>
    public const string Sqlite = "sqlite";

    /// <summary>One PostgreSQL database shared by several gateways (SPEC §12).</summary>
    public const string Postgres = "postgres";

    /// <summary>The drivers, as messages list them.</summary>
    public const string Drivers = "sqlite, postgres";

    /// <summary>True when <paramref name="driver"/> is one of <see cref="Drivers"/>.</summary>
    public static bool IsKnown(string driver) => driver is Sqlite or Postgres;

    /// <summary>A store not yet initialized (call <see cref="IGatewayStore.InitializeAsync"/>).</summary>
    /// <param name="busyTimeout">SQLite only: how long a write waits for the database lock.</param>
    /// <exception cref="StoreUnavailableException">The DSN is not one the driver understands.</exception>
    public static SqlGatewayStore Create(string driver, string dsn, SecretProtector secrets, TimeSpan? busyTimeout = null) => driver switch
    {
        Sqlite => new SqliteGatewayStore(dsn, secrets, busyTimeout),
        Postgres => new PostgresGatewayStore(dsn, secrets),
        _ => throw new ArgumentException($"database driver '{driver}' is not one of {Drivers}"),
    };
}
