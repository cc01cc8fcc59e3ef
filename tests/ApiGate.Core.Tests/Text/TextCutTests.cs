using ApiGate.Core.Text;

namespace ApiGate.Core.Tests.Text;

public sealed class TextCutTests
{
    [Theory]
    [InlineData("plain answer", 100, "plain answer")]
    [InlineData("nul\0and\u001besc", 100, "nul and esc")]
    [InlineData("two\r\nlines\u2028and\u2029more", 100, "two  lines and more")]
    [InlineData("\u202Eevil", 100, " evil")]
    [InlineData("pair \U0001F600 kept", 100, "pair \U0001F600 kept")]
    [InlineData("abc\U0001F600", 4, "abc")]
    [InlineData("abcdef", 3, "abc")]
    public void OneLine_RemoteText_CutWithoutHalfACharacterAndOnOneLine(string text, int max, string expected)
    {
        Assert.Equal(expected, TextCut.OneLine(text, max));
    }

    [Fact]
    public void OneLine_LoneSurrogates_BecomeSpaces()
    {
        // Built here: an attribute's string cannot carry half a character
        var high = "lone " + '\uD83D' + " high";
        var low = "lone " + '\uDE00' + " low";
        var swapped = "x" + '\uDE00' + '\uD83D' + "y";

        Assert.Equal("lone   high", TextCut.OneLine(high, 100));
        Assert.Equal("lone   low", TextCut.OneLine(low, 100));
        Assert.Equal("x  y", TextCut.OneLine(swapped, 100));
    }
}
