using MudBlazor;

namespace ApiGate.Web.Shared;

/// <summary>The theme of the gateway's web pages (colours only; fonts come from site.css's system font stack).</summary>
public static class WebTheme
{
    public static MudTheme Theme { get; } = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#1e4b8f",
            Secondary = "#00897b",
            AppbarBackground = "#17355f",
            Background = "#f4f6f9",
            DrawerBackground = "#ffffff",
        },
    };
}
