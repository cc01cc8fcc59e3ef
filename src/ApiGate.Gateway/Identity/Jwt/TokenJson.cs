using System.Buffers;
using System.Buffers.Text;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace ApiGate.Gateway.Identity.Jwt;

/// <summary>
/// What the token library does not say about a JWT's header and payload as sent: a member named twice (RFC 7519 §4,
/// RFC 7515 §4 let a recipient refuse such a token; the library and this gateway could each act on another of its values)
/// and whether <c>sub</c> is another JSON type than a string (the library hands a number on as its text). One pass over
/// each, in pooled buffers: a token without a repeated name costs no allocation.
/// </summary>
/// <param name="Duplicate">The first member found named twice, or null.</param>
/// <param name="SubjectNotAString">Whether the payload's <c>sub</c> is not a JSON string.</param>
internal readonly record struct TokenJson(TokenJson.Repeated? Duplicate, bool SubjectNotAString)
{
    /// <summary>The longest member name a refusal quotes; a longer one, or one with a character a header value cannot carry, is not quoted.</summary>
    public const int MaxQuotedName = 64;

    /// <summary>A member named twice: its name (null when not quotable) and whether it is in the header.</summary>
    public readonly record struct Repeated(string? Name, bool InHeader);

    /// <summary>Reads a compact JWS's header and payload; anything else (not three parts, not base64url, not a JSON object) reads as nothing found: the token library refuses it.</summary>
    public static TokenJson Read(string token)
    {
        var firstDot = token.IndexOf('.');
        var secondDot = firstDot < 0 ? -1 : token.IndexOf('.', firstDot + 1);
        if (secondDot < 0 || token.IndexOf('.', secondDot + 1) >= 0)
        {
            return default;
        }

        if (Scan(token.AsSpan(0, firstDot), inHeader: true, out _) is { } header)
        {
            return new TokenJson(header, false);
        }

        var payload = Scan(token.AsSpan(firstDot + 1, secondDot - firstDot - 1), inHeader: false, out var subjectNotAString);
        return new TokenJson(payload, subjectNotAString);
    }

    private static Repeated? Scan(ReadOnlySpan<char> encoded, bool inHeader, out bool subjectNotAString)
    {
        subjectNotAString = false;
        var max = Base64Url.GetMaxDecodedLength(encoded.Length);
        // Every member takes at least four bytes ("":0), so there are at most max / 4 + 1 names; the table is kept at most half full.
        var maxNames = (max / 4) + 1;
        var tableSize = (int)BitOperations.RoundUpToPowerOf2((uint)maxNames * 2);
        var bytes = ArrayPool<byte>.Shared.Rent(max * 2); // the JSON, then the names that were escaped in it, unescaped
        var ints = ArrayPool<int>.Shared.Rent((maxNames * 2) + tableSize); // each name's (start, length), then the hash table
        try
        {
            if (Base64Url.DecodeFromChars(encoded, bytes, out _, out var written) != OperationStatus.Done)
            {
                return null;
            }

            var names = ints.AsSpan(0, maxNames * 2);
            var table = ints.AsSpan(maxNames * 2, tableSize);
            table.Clear();
            var mask = tableSize - 1;
            var count = 0;
            var copied = 0;
            var reader = new Utf8JsonReader(bytes.AsSpan(0, written));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                int start;
                int length;
                if (reader.ValueIsEscaped)
                {
                    // "s\u0075b" is sub: compared unescaped
                    start = max + copied;
                    length = reader.CopyString(bytes.AsSpan(start));
                    copied += length;
                }
                else
                {
                    start = (int)reader.TokenStartIndex + 1; // past the opening quote
                    length = reader.ValueSpan.Length;
                }

                var name = bytes.AsSpan(start, length);
                var hash = 2166136261u; // FNV-1a
                foreach (var b in name)
                {
                    hash = (hash ^ b) * 16777619u;
                }

                for (var slot = (int)(hash & (uint)mask); ; slot = (slot + 1) & mask)
                {
                    if (table[slot] == 0)
                    {
                        table[slot] = count + 1;
                        names[count * 2] = start;
                        names[(count * 2) + 1] = length;
                        count++;
                        break;
                    }

                    var other = table[slot] - 1;
                    if (bytes.AsSpan(names[other * 2], names[(other * 2) + 1]).SequenceEqual(name))
                    {
                        return new Repeated(Quotable(name), inHeader);
                    }
                }

                var isSubject = !inHeader && name.SequenceEqual("sub"u8);
                reader.Read();
                if (isSubject)
                {
                    subjectNotAString = reader.TokenType != JsonTokenType.String;
                }

                reader.Skip();
            }

            return null;
        }
        catch (JsonException)
        {
            return null; // not JSON: the token library refuses it
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            ArrayPool<int>.Shared.Return(ints);
        }
    }

    /// <summary>The name as text a refusal (and its <c>WWW-Authenticate</c> header) can carry, or null.</summary>
    private static string? Quotable(ReadOnlySpan<byte> name)
    {
        if (name.Length is 0 or > MaxQuotedName)
        {
            return null;
        }

        foreach (var b in name)
        {
            if (b is < 0x20 or > 0x7E or (byte)'"' or (byte)'\\' or (byte)'\'')
            {
                return null;
            }
        }

        return Encoding.ASCII.GetString(name);
    }
}
