namespace ApiGate.Core.Storage;

/// <summary>
/// The store could not be used: its file cannot be opened, or it is locked. The message names the store's location
/// and the setting that chose it, so it can be shown as it is (never a bare driver error code).
/// </summary>
public class StoreUnavailableException(string message, Exception? innerException = null) : InvalidOperationException(message, innerException);

/// <summary>
/// A write waited the store's busy timeout for the database lock (another process or connection held it) and gave
/// up; nothing was written, so the same write can be tried again.
/// </summary>
public sealed class StoreBusyException(string message, Exception? innerException = null) : StoreUnavailableException(message, innerException);

/// <summary>
/// The store was made by another apigate: an older one created it (and it was not to be migrated) or a newer one
/// migrated it past what this build knows. It was not changed.
/// </summary>
public sealed class StoreSchemaMismatchException(string message) : StoreUnavailableException(message);
