using System.Text.Json.Serialization;

namespace ApiGate.Gateway.Admin;

/// <summary>A single resource: <c>{"data": {...}}</c>.</summary>
public sealed record DataDocument<T>(T Data);

/// <summary>A created API key: the key record, and the full key in <c>meta.key</c> (the only time it is ever shown).</summary>
public sealed record CreatedKeyDocument<T>(T Data, CreatedKeyMeta Meta);

/// <summary>The one-time secret of a created API key.</summary>
public sealed record CreatedKeyMeta(string Key);

/// <summary>One page of a collection: <c>{"data": [...], "meta": {...}, "links": {...}}</c>.</summary>
public sealed record ListDocument<T>(IReadOnlyList<T> Data, ListMeta Meta, PageLinks Links);

/// <summary>
/// Collection metadata: how many items exist in total, and which page this is (no number for a page read by cursor);
/// on the lists that take <c>page[after]</c>, the cursor the next page continues from (absent on the last page).
/// </summary>
public sealed record ListMeta(
    int Total,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? PageNumber,
    int PageSize,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NextCursor = null);

/// <summary>Pagination links (relative URLs including the admin base path); <c>prev</c>/<c>next</c> are null at the ends.</summary>
public sealed record PageLinks(string Self, string First, string? Prev, string? Next, string Last);

/// <summary>A refused request: <c>{"errors": [...]}</c>.</summary>
public sealed record ErrorDocument(IReadOnlyList<ErrorObject> Errors);

/// <summary>
/// One error. <c>status</c> is the HTTP status as a string; <c>code</c> is stable and machine-readable
/// (<c>validation_error</c>, <c>not_found</c>, <c>conflict</c>, <c>unauthorized</c>, <c>bad_request</c>,
/// <c>invalid_parameter</c>, <c>invalid_header</c>, <c>precondition_failed</c>, <c>method_not_allowed</c>, <c>unsupported_media_type</c>, <c>payload_too_large</c>, <c>internal_error</c>).
/// </summary>
public sealed record ErrorObject(
    string Status,
    string Code,
    string Title,
    string Detail,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ErrorSource? Source = null);

/// <summary>What the error is about: a JSON pointer into the request body, a query parameter, or a request header.</summary>
public sealed record ErrorSource(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Pointer = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Parameter = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Header = null);
