using System.CommandLine;
using System.Globalization;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>--limit N</c>, <c>--offset N</c> and <c>--after CURSOR</c> of a list command that the store reads a page at a time
/// (users, keys): without them the whole list is printed, as before; with them only that slice is read, and a line on
/// stderr says which rows of how many were shown — and, when more follow, the <c>--after</c> that reads on from the last
/// row shown whatever was added or removed since — so stdout stays the table (or JSON) alone. A list the command reads
/// whole and orders itself (routes in precedence order, upstreams) takes only <c>--limit</c> and <c>--offset</c>, sliced by
/// <see cref="Slice{T}"/>.
/// </summary>
internal sealed class ListPaging
{
    private readonly string _list;
    private readonly bool _cursors;
    private readonly Option<int?> _limit = new("--limit") { Description = "Print at most N rows (default: all)" };
    private readonly Option<int?> _offset = new("--offset") { Description = "Skip the first N rows (default 0)" };
    private readonly Option<string?> _after = new("--after")
    {
        Description = "Start right after this cursor (the --after an earlier page printed on stderr) instead of counting rows; not with --offset",
    };

    /// <param name="list">The list's name (<c>users</c>, <c>keys</c>): in the stderr line, and in its cursors, so one list's is refused by another.</param>
    /// <param name="cursors">Whether the list takes <c>--after</c>: only one the store reads by cursor does.</param>
    public ListPaging(Command command, string list, bool cursors = true)
    {
        _list = list;
        _cursors = cursors;
        command.Options.Add(_limit);
        command.Options.Add(_offset);
        if (cursors)
        {
            command.Options.Add(_after);
        }
    }

    /// <summary>The slice asked for, or an error naming the option.</summary>
    public ManagementResult<ListSlice> Read(ParseResult parse)
    {
        var limit = parse.GetValue(_limit);
        var offset = parse.GetValue(_offset);
        if (limit is < 1)
        {
            return new ManagementError(ManagementErrorKind.Validation, "--limit", "must be 1 or more");
        }

        if (offset is < 0)
        {
            return new ManagementError(ManagementErrorKind.Validation, "--offset", "must be 0 or more");
        }

        ListCursor? after = null;
        if (_cursors && parse.GetValue(_after) is { } cursor)
        {
            if (offset is not null)
            {
                return new ManagementError(ManagementErrorKind.Validation, "--after", "cannot be given with --offset: a page starts after a cursor or after a number of rows");
            }

            after = ListCursors.Decode(_list, cursor);
            if (after is null)
            {
                return new ManagementError(ManagementErrorKind.Validation, "--after",
                    $"is not a cursor of the {_list} list: give the --after an earlier '{_list} list' printed on stderr, unchanged");
            }
        }

        return new ListSlice(offset ?? 0, limit ?? int.MaxValue, after);
    }

    /// <summary>The rows of <paramref name="slice"/> out of a list read whole (a list without cursors).</summary>
    public static StorePage<T> Slice<T>(ListSlice slice, IReadOnlyList<T> all) =>
        new(slice.Offset >= all.Count ? [] : all.Skip(slice.Offset).Take(slice.Count).ToList(), all.Count);

    /// <summary>
    /// On stderr, when the slice is not the whole list: <c>users 3–4 of 5</c> (<c>users: 2 of 5 after the cursor</c>),
    /// then <c>; next: --after …</c> when rows follow.
    /// </summary>
    public void WriteRange<T>(CliContext context, ListSlice slice, StorePage<T> page)
    {
        if (slice.Offset == 0 && slice.After is null && page.Items.Count == page.Total)
        {
            return;
        }

        var range = slice.After is not null
            ? string.Create(CultureInfo.InvariantCulture, $"{_list}: {page.Items.Count} of {page.Total} after the cursor")
            : page.Items.Count == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{_list}: none past {slice.Offset} of {page.Total}")
            : string.Create(CultureInfo.InvariantCulture, $"{_list} {slice.Offset + 1}–{slice.Offset + page.Items.Count} of {page.Total}");
        context.Error.WriteLine(page.Next is { } next ? $"{range}; next: --after {ListCursors.Encode(_list, next)}" : range);
    }
}

/// <summary>The rows a list command asked for: after the first <paramref name="Offset"/>, or right after <paramref name="After"/>.</summary>
internal readonly record struct ListSlice(int Offset, int Count, ListCursor? After);
