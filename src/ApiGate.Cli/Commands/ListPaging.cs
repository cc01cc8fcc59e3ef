using System.CommandLine;
using System.Globalization;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>--limit N</c> and <c>--offset N</c> of a list command that the store reads a page at a time (users, keys): without
/// them the whole list is printed, as before; with them only that slice is read, and a line on stderr says which rows of
/// how many were shown, so stdout stays the table (or JSON) alone.
/// </summary>
internal sealed class ListPaging
{
    private readonly Option<int?> _limit = new("--limit") { Description = "Print at most N rows (default: all)" };
    private readonly Option<int?> _offset = new("--offset") { Description = "Skip the first N rows (default 0)" };

    public ListPaging(Command command)
    {
        command.Options.Add(_limit);
        command.Options.Add(_offset);
    }

    /// <summary>The slice asked for, or an error naming the option.</summary>
    public ManagementResult<(int Offset, int Count)> Read(ParseResult parse)
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

        return (offset ?? 0, limit ?? int.MaxValue);
    }

    /// <summary>On stderr, when the slice is not the whole list: <c>users 3–4 of 5</c>.</summary>
    public static void WriteRange<T>(CliContext context, string what, int offset, StorePage<T> page)
    {
        if (offset == 0 && page.Items.Count == page.Total)
        {
            return;
        }

        context.Error.WriteLine(page.Items.Count == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{what}: none past {offset} of {page.Total}")
            : string.Create(CultureInfo.InvariantCulture, $"{what} {offset + 1}–{offset + page.Items.Count} of {page.Total}"));
    }
}
