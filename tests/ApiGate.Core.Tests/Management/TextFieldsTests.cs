using ApiGate.Core.Management;

namespace ApiGate.Core.Tests.Management;

public sealed class TextFieldsTests
{
    [Theory]
    [InlineData("nul\0", 0x00, 4)]
    [InlineData("\u001b[31mred", 0x1B, 1)]
    [InlineData("tab\there", 0x09, 4)]
    [InlineData("line\nbreak", 0x0A, 5)]
    [InlineData("del\u007f", 0x7F, 4)]
    [InlineData("c1\u0085", 0x85, 3)]
    [InlineData("csi\u009b", 0x9B, 4)]
    [InlineData("admin\u202egnp.exe", 0x202E, 6)]
    [InlineData("\u2066isolate", 0x2066, 1)]
    [InlineData("line\u2028separator", 0x2028, 5)]
    [InlineData("paragraph\u2029separator", 0x2029, 10)]
    public void Check_ControlCharacter_ReturnsValidationErrorNamingFieldAndCharacter(string value, int code, int position)
    {
        // Act
        var error = TextFields.Check("description", value);

        // Assert
        Assert.NotNull(error);
        Assert.Equal(ManagementErrorKind.Validation, error.Kind);
        Assert.Equal("description", error.Field);
        Assert.Equal($"must not contain control characters (U+{code:X4} at position {position})", error.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Users API")]
    [InlineData("Ünïcödé – ✓ 名前")]
    [InlineData("ann+tag@example.com")]
    public void Check_PrintableText_ReturnsNull(string? value)
    {
        // Act
        var error = TextFields.Check("name", value);

        // Assert
        Assert.Null(error);
    }

    [Fact]
    public void Check_LongerThanTheLimit_RefusedWithoutEchoingIt()
    {
        // Act
        var atLimit = TextFields.Check("name", new string('n', TextFields.MaxLength));
        var over = TextFields.Check("name", new string('n', TextFields.MaxLength + 1));
        var url = TextFields.UrlProblem("http://127.0.0.1/" + new string('p', TextFields.MaxLength));

        // Assert
        Assert.Null(atLimit);
        Assert.Equal("is longer than 8192 characters", over!.Message);
        Assert.Equal("is longer than 8192 characters", url);
    }

    [Theory]
    [InlineData("ad\u200Bmin", 0x200B, 3)]
    [InlineData("ad\u200Cmin", 0x200C, 3)]
    [InlineData("ad\u200Dmin", 0x200D, 3)]
    [InlineData("ad\u2060min", 0x2060, 3)]
    [InlineData("\uFEFFadmin", 0xFEFF, 1)]
    [InlineData("ad\u00ADmin", 0x00AD, 3)]
    [InlineData("\u200C\u0645\u06CC", 0x200C, 1)] // a non-joiner before a Persian word: hides nothing it joins
    [InlineData("\u0645\u06CC\u200C 1", 0x200C, 3)] // beside a space
    [InlineData("\u0645\u06CC\u200C\u200C\u062E", 0x200C, 3)] // two in a row
    [InlineData("ad\U000E0041min", 0xE0041, 3)] // a tag character (outside the BMP: a surrogate pair), which shows nothing
    [InlineData("admin\U000E0001", 0xE0001, 6)] // the language tag
    [InlineData("ad\u034Fmin", 0x034F, 3)] // COMBINING GRAPHEME JOINER: a mark that shows nothing
    [InlineData("\u3164admin", 0x3164, 1)] // HANGUL FILLER
    [InlineData("ad\u115Fmin", 0x115F, 3)]
    [InlineData("ad\u1160min", 0x1160, 3)]
    [InlineData("admin\uFFA0", 0xFFA0, 6)] // HALFWIDTH HANGUL FILLER
    [InlineData("admin\u2800", 0x2800, 6)] // BRAILLE PATTERN BLANK: a space that is not one, so not trimmed
    [InlineData("ad\u180Bmin", 0x180B, 3)] // a Mongolian variation selector
    [InlineData("ad\uFE00min", 0xFE00, 3)] // a variation selector after ASCII selects nothing
    [InlineData("\uFE0Fadmin", 0xFE0F, 1)] // nor at the start
    [InlineData("ad\U000E0100min", 0xE0100, 3)] // a supplementary variation selector after ASCII
    [InlineData("\u2764\uFE0F\uFE0F", 0xFE0F, 3)] // a second selector after the first
    [InlineData("admin\U000E0FFF", 0xE0FFF, 6)] // unassigned, ignorable by default
    public void CheckInvisible_NameWithAnInvisibleCharacter_ReturnsValidationErrorNamingFieldAndCharacter(string name, int code, int position)
    {
        // Act
        var error = TextFields.CheckInvisible("name", name);

        // Assert
        Assert.NotNull(error);
        Assert.Equal(ManagementErrorKind.Validation, error.Kind);
        Assert.Equal("name", error.Field);
        Assert.Equal($"must not contain invisible characters (U+{code:X4} at position {position})", error.Message);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("Ünïcödé – ✓ 名前", null)]
    [InlineData("ad\u200Bmin", "ad\u200Bmin")] // stored before the rule, sent back unchanged (an edit form's other fields changed)
    [InlineData("\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645", null)] // Persian: a non-joiner between two letters, as the word is spelt
    [InlineData("\u0915\u094D\u200D\u0937", null)] // Devanagari: a joiner after a virama (a combining mark), before a letter
    [InlineData("I \u2764\uFE0F APIs", null)] // a variation selector choosing the heart's emoji form
    [InlineData("\u845B\U000E0100\u57CE", null)] // an ideographic variation sequence (a variant of a CJK ideograph)
    [InlineData("Team \U0001F680\uFE0E", null)] // text form of an emoji outside the BMP
    public void CheckInvisible_VisibleOrStoredUnchanged_ReturnsNull(string? name, string? stored)
    {
        // Act
        var error = TextFields.CheckInvisible("name", name, stored);

        // Assert
        Assert.Null(error);
    }

    [Theory]
    [InlineData("alice\U000E0020@example.test", 5)] // TAG SPACE: reads as alice@example.test
    [InlineData("\U000E007Falice@example.test", 0)]
    public void IndexOfInvisible_TagCharacterOutsideTheBmp_FoundAtItsPosition(string value, int index)
    {
        // Act
        var found = TextFields.IndexOfInvisible(value);

        // Assert
        Assert.Equal(index, found);
    }

    [Theory]
    [InlineData("Ünïcödé – ✓ 名前 😀")] // a character outside the BMP that is visible
    [InlineData("\uD83D")] // a lone surrogate is not a format character
    public void IndexOfInvisible_NothingInvisible_ReturnsMinusOne(string value)
    {
        // Act
        var found = TextFields.IndexOfInvisible(value);

        // Assert
        Assert.Equal(-1, found);
    }

    [Fact]
    public void Check_SeveralFields_NamesTheFirstBadOne()
    {
        // Act
        var error = TextFields.Check(("name", "ok"), ("description", "bad\u0007"), ("email", "bad\0"));

        // Assert
        Assert.NotNull(error);
        Assert.Equal("description", error.Field);
    }

    [Fact]
    public void Check_CredentialField_MessageDoesNotEchoTheValue()
    {
        // Act
        var error = TextFields.Check("auth_value", "secret-token\u0001");

        // Assert
        Assert.NotNull(error);
        Assert.DoesNotContain("secret-token", error.Message, StringComparison.Ordinal);
    }
}
