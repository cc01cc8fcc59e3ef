using System.Xml.Linq;
using ApiGate.Core.Storage;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Hosting;

namespace ApiGate.Web.Shared;

/// <summary>
/// Where the key that protects the console's and the portal's forms (antiforgery tokens) lives: in the store, so that
/// a form rendered by one instance is accepted by every other instance sharing the store, and a restart does not
/// refuse the forms open in browsers. The gateway keeps exactly one such key: whatever element the key manager writes
/// goes to the one slot, and the first writer wins (<see cref="IWebSessionStore.AddWebKeyAsync"/>).
/// </summary>
/// <remarks>
/// The key manager's repository interface is synchronous; it is called before the first page (<see cref="StoredFormKey.Ensure"/>)
/// and when the key ring is reloaded (once a day, or when a form names a key the ring does not hold), never on the
/// proxy's request path. The stored key never changes while instances run (replacing it means stopping them all), so
/// once read it is kept, and only a repository that has not yet found a key waits for the store. Each store call runs
/// on the thread pool and is waited for there, so that its continuations never need the caller's synchronization
/// context (the page renderer's, which the wait blocks).
/// </remarks>
internal sealed class StoredFormKeyRepository(IGatewayStore store, TimeProvider timeProvider) : IXmlRepository
{
    private volatile string? _stored;

    /// <summary>How many times the store was read (for tests: a repository that holds the key reads it no more).</summary>
    internal int StoreReads;

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        var xml = _stored;
        if (xml is null)
        {
            Interlocked.Increment(ref StoreReads);
            xml = Task.Run(() => StoredFormKey.ReadAsync(store, CancellationToken.None)).GetAwaiter().GetResult();
            if (xml is null)
            {
                return [];
            }
        }

        XElement element;
        try
        {
            element = XElement.Parse(xml);
        }
        catch (System.Xml.XmlException)
        {
            throw new InvalidOperationException(StoredFormKey.Unusable);
        }

        _stored = xml;
        return [element];
    }

    public void StoreElement(XElement element, string friendlyName) =>
        Task.Run(() => store.AddWebKeyAsync(element.ToString(SaveOptions.DisableFormatting), timeProvider.GetUtcNow(), CancellationToken.None)).GetAwaiter().GetResult();
}

/// <summary>
/// The forms key's one rule: exactly one key, stored first wins. The first instance to serve a page on a store creates
/// it (valid for decades: it is not rotated on a schedule), and every instance then uses whichever key was stored
/// first. Automatic key generation is off (<see cref="WebPages"/>), so instances starting together cannot end up with
/// keys of their own.
/// </summary>
internal static class StoredFormKey
{
    /// <summary>How long the created key is valid.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(365 * 50);

    /// <summary>The error when the stored key cannot be used (it names the table and the remedy).</summary>
    public const string Unusable =
        "the console's and portal's forms key in the store (table web_keys) is not a usable key; stop every instance, delete that row, and start them again (a new key is made)";

    /// <summary>
    /// The stored key's text, or null when there is none. A key that cannot be decrypted (written under another
    /// <c>APIGATE_SECRET_KEY</c>) is an error naming the table and the remedy; a store outage is the store's own error.
    /// </summary>
    public static async Task<string?> ReadAsync(IGatewayStore store, CancellationToken cancellationToken)
    {
        try
        {
            return await store.GetWebKeyAsync(cancellationToken);
        }
        catch (InvalidOperationException ex) when (ex is not StoreUnavailableException) // an outage is not the key's fault
        {
            throw new InvalidOperationException(
                ex.Message + " (the console's and portal's forms key, table web_keys); or, to replace that key, stop every instance, " +
                "delete the row and start them again (a new key is made; open forms must be reloaded)", ex);
        }
    }

    /// <summary>Makes sure a usable key exists before the first page is served; synchronous, as the key manager is.</summary>
    public static void Ensure(IKeyManager keys, IDataProtectionProvider protection)
    {
        // The key manager compares with the system clock, so the key is dated by it too (a day back, so an instance
        // whose clock runs a little behind already finds it active).
        var now = DateTimeOffset.UtcNow;
        if (!HasUsable(keys, now))
        {
            // Another instance may store its key first: then this one is dropped and the stored one read back.
            keys.CreateNewKey(now.AddDays(-1), now.Add(Lifetime));
            if (!HasUsable(keys, now))
            {
                throw new InvalidOperationException(Unusable);
            }
        }

        // Loads the key ring (what protecting anything needs) now, not in the first page. A stored key that passes the
        // checks above but cannot protect (a damaged descriptor) is the same error.
        try
        {
            protection.CreateProtector("apigate.forms-key-check").Protect([]);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or InvalidOperationException and not StoreUnavailableException)
        {
            throw new InvalidOperationException(Unusable, ex);
        }
    }

    private static bool HasUsable(IKeyManager keys, DateTimeOffset now) =>
        keys.GetAllKeys().Any(key => !key.IsRevoked && key.ActivationDate <= now && key.ExpirationDate > now.AddYears(1));
}

/// <summary>
/// At start, reads the stored forms key the way the pages will: a key written under another <c>APIGATE_SECRET_KEY</c>
/// refuses the start, naming the table and the remedy. The key itself is parsed, or made, on the first page
/// (<see cref="WebPagesContainer"/>), so a gateway whose pages are not visited never loads the key ring.
/// </summary>
internal sealed class StoredFormKeyCheck(IGatewayStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => StoredFormKey.ReadAsync(store, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
