using System.CommandLine;
using System.Text.Json.Serialization;
using ApiGate.Cli.Output;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>--after CURSOR</c> of a newest-first list read a page at a time (<c>usage recent</c>, <c>admin audit</c>): each run
/// prints <c>--limit</c> rows and, when older ones follow, the cursor that reads on from the last row shown — the last
/// line of the table (<c>next: --after …</c>), or <c>meta.next_cursor</c> of the JSON document, as the admin API gives it.
/// Cursors are the admin API's (<c>page[after]</c>, <c>meta.next_cursor</c>): one list's is refused by the other.
/// </summary>
internal sealed class RecentPaging
{
    private readonly string _list;
    private readonly string _kind;
    private readonly Option<string?> _after = new("--after")
    {
        Description = "Read on right after this cursor (the 'next: --after' an earlier page printed, or the admin API's meta.next_cursor)",
    };

    /// <param name="list">The command as the user types it (<c>usage recent</c>), for the error.</param>
    /// <param name="kind">The list's name in its cursors (<see cref="ListCursors"/>).</param>
    public RecentPaging(Command command, string list, string kind)
    {
        _list = list;
        _kind = kind;
        command.Options.Add(_after);
    }

    /// <summary>The cursor given (null without <c>--after</c>), or an error naming the flag.</summary>
    public ManagementResult<ListCursor?> Read(ParseResult parse)
    {
        if (parse.GetValue(_after) is not { } text)
        {
            return new ManagementResult<ListCursor?>(null, null);
        }

        return ListCursors.Decode(_kind, text, windowed: true) is { } cursor
            ? new ManagementResult<ListCursor?>(cursor, null)
            : new ManagementError(ManagementErrorKind.Validation, "--after",
                $"is not a cursor of '{_list}': give the one an earlier page printed (next: --after …) or the admin API's meta.next_cursor, unchanged");
    }

    /// <summary>The text of the page's next cursor, or null on the last page.</summary>
    public string? Next<T>(StorePage<T> page) => page.Next is { } next ? ListCursors.Encode(_kind, next) : null;

    /// <summary>The page as JSON: <c>{"data": […], "meta": {"total": …, "next_cursor": …}}</c>, the admin API's list document without its links.</summary>
    public void WriteJson<T>(TextWriter output, StorePage<T> page) =>
        JsonOutput.Write(output, new PageDocument<T>(page.Items, new PageMeta(page.Total, Next(page))));

    /// <summary>After the table: <c>next: --after …</c> when older rows follow.</summary>
    public void WriteNext<T>(TextWriter output, StorePage<T> page)
    {
        if (Next(page) is { } next)
        {
            output.WriteLine($"next: --after {next}");
        }
    }

    private sealed record PageDocument<T>(IReadOnlyList<T> Data, PageMeta Meta);

    private sealed record PageMeta(int Total, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NextCursor);
}
