using ApiGate.Gateway.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ApiGate.Gateway.Hosting;

/// <summary>
/// <see cref="GatewayOptions"/> through the options pattern: bound by <see cref="GatewaySettings"/>, checked by
/// <see cref="GatewayOptionsValidator"/> (which asks each feature about its own settings, so it lives here, above them).
/// </summary>
public static class GatewayOptionsSetup
{
    /// <summary>Registers <see cref="GatewayOptions"/> bound from <paramref name="configuration"/>, checked by <see cref="GatewayOptionsValidator"/> when first read.</summary>
    public static OptionsBuilder<GatewayOptions> AddGatewayOptions(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GatewayOptions>>(new GatewayOptionsValidator(configuration)));
        return services.AddOptions<GatewayOptions>().BindSettings(configuration);
    }

    /// <summary>
    /// The options the configuration resolves to, through the options pattern (binding, then every
    /// <see cref="IValidateOptions{TOptions}"/>). Throws <see cref="ArgumentException"/>: for a value that does not parse,
    /// <c>server.port (from APIGATE_SERVER_PORT): 'eighty' is not a whole number</c>; for values that parse but are
    /// refused, <c>invalid configuration: </c> followed by every problem, each naming its setting and source.
    /// </summary>
    public static GatewayOptions Resolve(IConfiguration configuration)
    {
        var services = new ServiceCollection();
        services.AddGatewayOptions(configuration);
        using var provider = services.BuildServiceProvider();
        try
        {
            return provider.GetRequiredService<IOptions<GatewayOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            throw new ArgumentException("invalid configuration: " + string.Join("; ", ex.Failures), ex);
        }
    }
}
