using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// Requests whose path is <paramref name="BasePath"/> or under it go to <paramref name="Handler"/> (the path is not
/// stripped: handlers see <c>/ui/routes</c>, not <c>/routes</c>).
/// </summary>
/// <param name="BasePath">Like <c>/ui</c>.</param>
/// <param name="OnAdminSide">True: served where the admin API is (the admin listener when there is one, else the main
/// port). False: served on the main port only.</param>
/// <param name="Handler">The branch's pipeline.</param>
public sealed record GatewayWebBranch(PathString BasePath, bool OnAdminSide, RequestDelegate Handler);
