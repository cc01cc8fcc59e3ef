using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Storage.Sql;
using Microsoft.Data.Sqlite;

namespace ApiGate.Storage.Sqlite;

/// <summary>
/// Usage batches (SPEC §8) through <see cref="SqliteUsageWriter"/>: one connection kept open with its statements
/// prepared once. Reads, compaction and pruning are shared (<see cref="SqlGatewayStore"/>).
/// </summary>
public sealed partial class SqliteGatewayStore
{
    private readonly SemaphoreSlim _usageWriterLock = new(1, 1);
    private SqliteUsageWriter? _usageWriter;

    // Why the last usage write failed for want of space; null once one went through (read by CheckAsync).
    private volatile string? _diskFull;

    public override async Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, RawUsageEvents rawEvents, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        await _usageWriterLock.WaitAsync(cancellationToken);
        try
        {
            if (_usageWriter is null && FileProblem() is { } problem)
            {
                // The first batch after the file went: say why, as every other write does (BeginWrite), not just that it
                // cannot be opened. Busy, not failed: the batch is held and tried again until the file is back.
                throw new StoreBusyException(problem.Reason);
            }

            _usageWriter ??= new SqliteUsageWriter(await OpenAsync(cancellationToken));
            var connection = _usageWriter.Connection;
            try
            {
                using var turn = await EnterWriteAsync(cancellationToken);
                using var transaction = BeginWrite(connection);
                try
                {
                    _usageWriter.Write(events, rawEvents);
                    await RecordUsageCrossingsAsync(connection, transaction, events, cancellationToken);
                }
                catch
                {
                    // The connection may be unusable (disk error, file replaced): start the next batch on a fresh one.
                    transaction.Rollback();
                    DisposeUsageWriter();
                    throw;
                }

                transaction.Commit(); // no version bump: usage is not configuration
                AfterCommit(transaction);
                _diskFull = null;
            }
            catch (StoreUnavailableException ex) when (ex is not StoreBusyException && FileProblem() is not null)
            {
                // The file was deleted, moved or replaced (BeginWrite refused to write to the old one): held and tried
                // again like a read-only file, not dropped after a few attempts — putting the file back heals it.
                DisposeUsageWriter();
                throw new StoreBusyException(ex.Message, ex);
            }
            catch (SqliteException ex) when (IsFull(ex))
            {
                // Busy, not failed, as a read-only file: the background writer keeps the batch (and those after it, up
                // to the usage queue's capacity) and tries again until space is freed, instead of dropping one batch
                // after another while the disk is full; readiness says so meanwhile.
                DisposeUsageWriter();
                var reason = $"the disk holding the store at {Location} ({Setting}) is full: usage is kept in memory and written once space is freed ({Reason(ex)})";
                _diskFull = reason;
                throw new StoreBusyException(reason, ex);
            }
            catch (SqliteException ex) when (IsReadOnly(ex))
            {
                // Opened while the file was read-only: the next attempt opens it again, so it is written once it is
                // writable. Busy, not failed: the background writer keeps the batch and tries again (as for a database
                // server that does not answer) instead of dropping it after a few attempts.
                DisposeUsageWriter();
                throw new StoreBusyException(ReadOnlyStore(ex).Message, ex);
            }
        }
        finally
        {
            _usageWriterLock.Release();
        }
    }

    private void DisposeUsageWriter()
    {
        _usageWriter?.Dispose();
        _usageWriter = null;
    }
}
