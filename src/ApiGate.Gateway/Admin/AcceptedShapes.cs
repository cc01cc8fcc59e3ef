namespace ApiGate.Gateway.Admin;

/// <summary>The JSON shapes a request body field accepts where they go beyond its CLR type's own (<see cref="AdminBody.ShapesFor"/>).</summary>
[Flags]
internal enum AcceptedShapes
{
    /// <summary>Only the shape of the field's CLR type.</summary>
    None = 0,

    /// <summary>A string (text fields).</summary>
    String = 1,

    /// <summary>A number, read as its text (<c>"timeout_ms": 5000</c>).</summary>
    Number = 2,

    /// <summary><c>true</c> or <c>false</c>, read as its text.</summary>
    Boolean = 4,

    /// <summary>An array of strings: joined with commas for a text field, the list itself for a text list.</summary>
    StringArray = 8,

    /// <summary>An object of names to strings, numbers or booleans, read as <c>name=value</c> items of a text list.</summary>
    NameValueObject = 16,

    /// <summary>A JSON object of the record's fields.</summary>
    Object = 32,

    /// <summary>The CLI's target form <c>"URL[,weight=N]"</c> (<see cref="TargetInput.Parse"/>).</summary>
    TargetString = 64,
}
