using System.Xml.Linq;
using ApiGate.Core.Storage;
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
/// The key manager's repository interface is synchronous; it is called at start (<see cref="StoredFormKeyStartup"/>)
/// and when the key ring is reloaded (once a day), never on the proxy's request path.
/// </remarks>
internal sealed class StoredFormKeyRepository(IGatewayStore store, TimeProvider timeProvider) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        string? xml;
        try
        {
            xml = store.GetWebKeyAsync(CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidOperationException(
                ex.Message + " (the console's and portal's forms key, table web_keys); or, to replace that key, stop every instance, " +
                "delete the row and start them again (a new key is made; open forms must be reloaded)", ex);
        }

        if (xml is null)
        {
            return [];
        }

        try
        {
            return [XElement.Parse(xml)];
        }
        catch (System.Xml.XmlException)
        {
            throw new InvalidOperationException(StoredFormKeyStartup.Unusable);
        }
    }

    public void StoreElement(XElement element, string friendlyName) =>
        store.AddWebKeyAsync(element.ToString(SaveOptions.DisableFormatting), timeProvider.GetUtcNow(), CancellationToken.None).GetAwaiter().GetResult();
}

/// <summary>
/// Makes sure the forms key exists before the first page is served: the first instance to start on a store creates it
/// (valid for decades: it is not rotated on a schedule), and every instance then uses whichever key was stored first.
/// Automatic key generation is off (<see cref="WebPages"/>), so instances starting together cannot end up with keys
/// of their own.
/// </summary>
internal sealed class StoredFormKeyStartup(IKeyManager keys) : IHostedService
{
    /// <summary>How long the created key is valid.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(365 * 50);

    /// <summary>The start error when the stored key cannot be used (it names the table and the remedy).</summary>
    public const string Unusable =
        "the console's and portal's forms key in the store (table web_keys) is not a usable key; stop every instance, delete that row, and start them again (a new key is made)";

    public Task StartAsync(CancellationToken cancellationToken) => Task.Run(() =>
    {
        // The key manager compares with the system clock, so the key is dated by it too (a day back, so an instance
        // whose clock runs a little behind already finds it active).
        var now = DateTimeOffset.UtcNow;
        if (HasUsable(now))
        {
            return;
        }

        // Another instance may store its key first: then this one is dropped and the stored one read back.
        keys.CreateNewKey(now.AddDays(-1), now.Add(Lifetime));
        if (!HasUsable(now))
        {
            throw new InvalidOperationException(Unusable);
        }
    }, cancellationToken);

    private bool HasUsable(DateTimeOffset now) =>
        keys.GetAllKeys().Any(key => !key.IsRevoked && key.ActivationDate <= now && key.ExpirationDate > now.AddYears(1));

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
