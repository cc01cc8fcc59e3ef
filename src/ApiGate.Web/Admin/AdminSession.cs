using ApiGate.Core.Identity;
using ApiGate.Gateway.Admin;

namespace ApiGate.Web.Admin;

/// <summary>A signed-in admin console session for the page being rendered: the stored session and who it is (the admin token's id and name).</summary>
internal sealed record AdminSession(WebSession Stored, AdminCaller Caller);
