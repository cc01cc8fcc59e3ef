using ApiGate.Core.Portal;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// A request for a link by email (password reset, or a new confirmation link from the login page) that was answered
/// before anything about <see cref="Email"/> was looked up; <see cref="PortalLinkRequestWorker"/> does the rest.
/// </summary>
/// <param name="Email">The address as typed (trimmed): looked up later, never logged.</param>
/// <param name="Purpose">Which link: <see cref="PortalTokenPurpose.Reset"/> or <see cref="PortalTokenPurpose.Verify"/>.</param>
/// <param name="Links">Where the link points (the base URL, or the loopback address the request was made to), decided when the request arrived.</param>
internal sealed record PortalLinkRequest(string Email, PortalTokenPurpose Purpose, string Links);
