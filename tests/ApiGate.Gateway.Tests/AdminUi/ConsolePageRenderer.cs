using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// Renders one console page for a request, the request cascaded as the console cascades it, and returns its HTML: for
/// what a page renders that no response shows (a form post's handler redirects or answers another page).
/// </summary>
internal static class ConsolePageRenderer
{
    public static async Task<string> RenderAsync<TPage>(IServiceProvider services, HttpContext context, IReadOnlyDictionary<string, object?>? parameters = null)
        where TPage : IComponent
    {
        await using var renderer = new HtmlRenderer(services, NullLoggerFactory.Instance);
        return await renderer.Dispatcher.InvokeAsync(async () =>
        {
            var page = await renderer.RenderComponentAsync<CascadingValue<HttpContext>>(ParameterView.FromDictionary(new Dictionary<string, object?>
            {
                [nameof(CascadingValue<HttpContext>.Value)] = context,
                [nameof(CascadingValue<HttpContext>.ChildContent)] = (RenderFragment)(builder =>
                {
                    builder.OpenComponent<TPage>(0);
                    foreach (var (name, value) in parameters ?? new Dictionary<string, object?>())
                    {
                        builder.AddComponentParameter(1, name, value);
                    }

                    builder.CloseComponent();
                }),
            }));
            await page.QuiescenceTask;
            return page.ToHtmlString();
        });
    }
}
