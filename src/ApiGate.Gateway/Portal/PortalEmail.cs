namespace ApiGate.Gateway.Portal;

/// <summary>One email the portal sends: plain text, to one address.</summary>
internal sealed record PortalEmail(string To, string Subject, string Body);
