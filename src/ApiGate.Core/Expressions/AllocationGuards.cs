using Jint;
using Jint.Native;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Descriptors;
using Jint.Runtime.Interop;

namespace ApiGate.Core.Expressions;

/// <summary>
/// Wraps the built-ins that can build a string far larger than their inputs in one call (<c>repeat</c>,
/// <c>padStart</c>/<c>padEnd</c>, <c>concat</c>, <c>join</c>, <c>toLocaleString</c>, <c>replace</c>/<c>replaceAll</c> with <c>$</c> patterns,
/// <c>JSON.stringify</c>, <c>String.raw</c>, <c>encodeURIComponent</c>) so that the size of what they are about to build is charged to the evaluation's memory limit
/// first. Jint's own memory constraint runs between statements: by then one <c>'x'.repeat(2**28)</c> has allocated
/// half a gigabyte. Only what is known without running script is counted (strings held in arrays and plain
/// objects); whatever script a call runs (a callback, a getter, <c>toString</c>) is checked statement by statement.
/// </summary>
internal static class AllocationGuards
{
    /// <summary>Array elements and object properties inspected per call before giving up on projecting a size.</summary>
    private const int MaxInspected = (int)ExpressionEngine.MaxArraySize;

    private const int MaxDepth = 64;

    /// <summary>
    /// Global functions <see cref="ExpressionEngine.Compile"/> wraps around the right-hand side of every <c>+=</c> and
    /// around every untagged template literal and its substitutions. Both build a string inside one statement without
    /// Jint's memory constraint seeing it (unlike <c>a + b</c>, which Jint charges): <c>(s += s, s += s, …)</c> or
    /// <c>s = `${s}${s}`</c> repeated in one expression doubled a string up to a gigabyte, for seconds, between two
    /// checks. Names with this prefix are refused in expressions, so none can be shadowed or called by name.
    /// </summary>
    internal const string ReservedPrefix = "__apigate";

    /// <summary><c>a += b</c> becomes <c>a += __apigateAppend((b))</c>: what is appended is charged first.</summary>
    internal const string Append = ReservedPrefix + "Append";

    /// <summary>
    /// <c>`x${a}y`</c> becomes <c>__apigateTemplate(`x${__apigateTemplatePart((a))}y`)</c>: each part, converted to a
    /// string as the template would, adds to what the templates being built will allocate, which is charged; the
    /// finished template takes its length off again.
    /// </summary>
    internal const string TemplatePart = ReservedPrefix + "TemplatePart";

    /// <inheritdoc cref="TemplatePart"/>
    internal const string Template = ReservedPrefix + "Template";

    internal static void Install(ExpressionSandbox sandbox)
    {
        var global = sandbox.Engine.Global;
        Define(sandbox, global, Append, (_, args) =>
        {
            var value = Arg(args, 0);
            sandbox.Charge(value is JsString text ? text.Length : 0);
            return value;
        });
        Define(sandbox, global, TemplatePart, (_, args) =>
        {
            var text = TypeConverter.ToString(Arg(args, 0));
            sandbox.TemplateChars += text.Length;
            sandbox.Charge(sandbox.TemplateChars);
            return text;
        });
        Define(sandbox, global, Template, (_, args) =>
        {
            var value = Arg(args, 0);
            if (value is JsString text)
            {
                sandbox.TemplateChars = Math.Max(0, sandbox.TemplateChars - text.Length);
            }

            return value;
        });

        InstallBuiltIns(sandbox);
    }

    private static void Define(ExpressionSandbox sandbox, ObjectInstance global, string name, Func<JsValue, JsValue[], JsValue> body) =>
        global.DefineOwnProperty(name, new PropertyDescriptor(new ClrFunction(sandbox.Engine, name, body, 1), writable: false, enumerable: false, configurable: false));

    private static void InstallBuiltIns(ExpressionSandbox sandbox)
    {
        var engine = sandbox.Engine;
        var stringConstructor = engine.Global.Get("String").AsObject();
        var stringPrototype = Prototype(stringConstructor);
        var arrayPrototype = Prototype(engine.Intrinsics.Array);
        var regExpPrototype = Prototype(engine.Intrinsics.RegExp);
        var json = engine.Global.Get("JSON").AsObject();

        Wrap(sandbox, stringPrototype, "repeat", 1, (original, thisObj, args) =>
        {
            if (IsNullOrUndefined(thisObj))
            {
                return sandbox.Engine.Call(original, thisObj, args);
            }

            var text = TypeConverter.ToString(thisObj);
            var count = TypeConverter.ToIntegerOrInfinity(Arg(args, 0));
            if (count > 0 && text.Length > 0)
            {
                sandbox.Charge(text.Length * count);
            }

            return sandbox.Engine.Call(original, text, [count]);
        });

        foreach (var name in (ReadOnlySpan<string>)["padStart", "padEnd"])
        {
            Wrap(sandbox, stringPrototype, name, 1, (original, thisObj, args) =>
            {
                if (IsNullOrUndefined(thisObj))
                {
                    return sandbox.Engine.Call(original, thisObj, args);
                }

                var text = TypeConverter.ToString(thisObj);
                var maxLength = (double)TypeConverter.ToLength(Arg(args, 0));
                sandbox.Charge(maxLength);
                return sandbox.Engine.Call(original, text, [maxLength, .. args.Length > 1 ? args[1..2] : []]);
            });
        }

        Wrap(sandbox, stringPrototype, "concat", 1, (original, thisObj, args) =>
        {
            if (IsNullOrUndefined(thisObj))
            {
                return sandbox.Engine.Call(original, thisObj, args);
            }

            var text = TypeConverter.ToString(thisObj);
            double total = text.Length;
            var parts = new JsValue[args.Length];
            for (var i = 0; i < args.Length; i++)
            {
                var part = TypeConverter.ToString(args[i]);
                total += part.Length;
                parts[i] = part;
            }

            sandbox.Charge(total);
            return sandbox.Engine.Call(original, text, parts);
        });

        Wrap(sandbox, stringPrototype, "replace", 2, (original, thisObj, args) => Replace(sandbox, original, thisObj, args, all: false));
        Wrap(sandbox, stringPrototype, "replaceAll", 2, (original, thisObj, args) => Replace(sandbox, original, thisObj, args, all: true));

        // A global match, matchAll, replace or split by a regular expression makes every match in one call, and the
        // memory and time limits were checked only at the next statement: 'x'.repeat(1.9e6).match(/x/g) ran for 11 s and
        // allocated far past the limit before failing. Those built-ins take each match from `exec` once it is not the
        // engine's own (RegExpExec), so this one checks both limits before every match.
        Wrap(sandbox, regExpPrototype, "exec", 1, (original, thisObj, args) =>
        {
            sandbox.CheckDeadline();
            sandbox.Charge(0);
            return sandbox.Engine.Call(original, thisObj, args);
        });

        Wrap(sandbox, regExpPrototype, Jint.Native.Symbol.GlobalSymbolRegistry.Replace, "[Symbol.replace]", 2, (original, thisObj, args) =>
        {
            var replacement = Arg(args, 1);
            if (thisObj is not ObjectInstance regExp)
            {
                return sandbox.Engine.Call(original, thisObj, args);
            }

            if (replacement.IsCallable())
            {
                // A callback may return the same long string for every match: each is one statement's worth of script,
                // but the result is built from all of them after the last. What it has built so far is charged as it goes.
                var subject = TypeConverter.ToString(Arg(args, 0));
                double built = subject.Length;
                var counted = new ClrFunction(sandbox.Engine, "", (self, callArgs) =>
                {
                    var piece = TypeConverter.ToString(sandbox.Engine.Call(replacement, self, callArgs));
                    built += piece.Length;
                    sandbox.Charge(built);
                    return piece;
                }, 0);
                return sandbox.Engine.Call(original, regExp, [subject, counted]);
            }

            var text = TypeConverter.ToString(Arg(args, 0));
            var pattern = TypeConverter.ToString(replacement);
            var global = TypeConverter.ToString(regExp.Get("flags")).Contains('g', StringComparison.Ordinal);
            sandbox.Charge(text.Length + (global ? text.Length + 1.0 : 1.0) * PerMatch(pattern, text));
            return sandbox.Engine.Call(original, regExp, [text, pattern]);
        });

        Wrap(sandbox, arrayPrototype, "join", 1, (original, thisObj, args) =>
        {
            if (thisObj is not ObjectInstance list)
            {
                return sandbox.Engine.Call(original, thisObj, args);
            }

            var separatorArg = Arg(args, 0);
            var separator = separatorArg.IsUndefined() ? "," : TypeConverter.ToString(separatorArg);
            ChargeJoin(sandbox, list, separator.Length);
            return sandbox.Engine.Call(original, list, [separator]);
        });

        Wrap(sandbox, arrayPrototype, "toLocaleString", 0, (original, thisObj, args) =>
        {
            if (thisObj is ObjectInstance list)
            {
                ChargeJoin(sandbox, list, 1);
            }

            return sandbox.Engine.Call(original, thisObj, args);
        });

        foreach (var name in (ReadOnlySpan<string>)["encodeURI", "encodeURIComponent", "escape"])
        {
            Wrap(sandbox, engine.Global, name, 1, (original, thisObj, args) =>
            {
                var text = TypeConverter.ToString(Arg(args, 0));
                var wide = 0;
                foreach (var c in text)
                {
                    if (c >= 0x80)
                    {
                        wide++;
                    }
                }

                // At most %XX per ASCII character and three of them (or one %uXXXX) per other UTF-16 unit.
                sandbox.Charge(3.0 * text.Length + 6.0 * wide);
                return sandbox.Engine.Call(original, thisObj, [text]);
            });
        }

        Wrap(sandbox, stringConstructor, "raw", 1, (original, thisObj, args) =>
        {
            if (Arg(args, 0) is ObjectInstance template && template.Get("raw") is ObjectInstance raw)
            {
                var rawLength = TypeConverter.ToLength(raw.Get("length"));
                sandbox.Charge(rawLength); // as for join: at least a character's worth per element, before visiting them
                var total = ElementChars(raw, Math.Min(rawLength, (ulong)MaxInspected), sandbox.RemainingChars);
                var parts = new JsValue[args.Length];
                parts[0] = template;
                for (var i = 1; i < args.Length; i++)
                {
                    var part = TypeConverter.ToString(args[i]);
                    total += part.Length;
                    parts[i] = part;
                }

                sandbox.Charge(total);
                return sandbox.Engine.Call(original, thisObj, parts);
            }

            return sandbox.Engine.Call(original, thisObj, args);
        });

        // One object per character of a string, built in one call: Object.keys('x'.repeat(4e6)) made four million keys
        // (Object.getOwnPropertyDescriptors four million descriptors: 31 s, 2.8 GB) before any statement-level check ran.
        var objectConstructor = engine.Global.Get("Object").AsObject();
        foreach (var (name, perCharacter) in (ReadOnlySpan<(string, double)>)[
            ("keys", PerElement), ("values", PerElement), ("entries", 3 * PerElement), ("getOwnPropertyNames", PerElement),
            ("getOwnPropertyDescriptors", 4 * PerElement), ("assign", 2 * PerElement), ("freeze", 2 * PerElement), ("seal", 2 * PerElement)])
        {
            Wrap(sandbox, objectConstructor, name, 1, (original, thisObj, args) =>
            {
                // Object.assign(target, ...sources) copies the sources' characters; the others work on their argument.
                for (var i = name == "assign" ? 1 : 0; i < (name == "assign" ? args.Length : Math.Min(args.Length, 1)); i++)
                {
                    ChargeElements(sandbox, perCharacter, args[i]);
                }

                return sandbox.Engine.Call(original, thisObj, args);
            });
        }

        Wrap(sandbox, engine.Global.Get("Reflect").AsObject(), "ownKeys", 1, (original, thisObj, args) =>
        {
            ChargeElements(sandbox, PerElement, Arg(args, 0));
            return sandbox.Engine.Call(original, thisObj, args);
        });

        Wrap(sandbox, engine.Intrinsics.Array, "from", 1, (original, thisObj, args) =>
        {
            ChargeElements(sandbox, PerElement, Arg(args, 0));
            return sandbox.Engine.Call(original, thisObj, args);
        });

        Wrap(sandbox, stringPrototype, "split", 2, (original, thisObj, args) =>
        {
            // One piece per occurrence of a string separator (per character for ''), counted before splitting. A regular
            // expression dispatches to its own [Symbol.split]: left to the statement-level checks.
            if (IsNullOrUndefined(thisObj) || Arg(args, 0) is not JsString separator)
            {
                return sandbox.Engine.Call(original, thisObj, args);
            }

            var text = TypeConverter.ToString(thisObj);
            var pieces = separator.Length == 0 ? text.Length : Occurrences(text, separator.ToString()) + 1;
            var limit = Arg(args, 1);
            sandbox.Charge(PerElement * (limit.IsUndefined() ? pieces : Math.Min(pieces, TypeConverter.ToUint32(limit))));
            return sandbox.Engine.Call(original, text, limit.IsUndefined() ? [separator] : [separator, limit]);
        });

        Wrap(sandbox, json, "stringify", 3, (original, thisObj, args) =>
        {
            var replacer = Arg(args, 1);
            if (!replacer.IsCallable())
            {
                var space = Arg(args, 2);
                var indent = space.IsNumber() ? Math.Clamp(TypeConverter.ToIntegerOrInfinity(space), 0, 10) : space.IsString() ? Math.Min(space.AsString().Length, 10) : 0;
                var inspected = 0;
                sandbox.Charge(JsonChars(Arg(args, 0), 1, indent, sandbox.RemainingChars, ref inspected));
            }

            // The serializer checks the time limit only every so many elements of one array or object, and its check
            // for cycles costs as much as the nesting is deep: 8,000 arrays nested in one another took over a second in
            // one call, ten times the limit, and were served. A replacer function is called for every value it visits,
            // so one of ours checks the clock there and hands the value to the script's own replacer, if any. A property
            // list (an array replacer) cannot be expressed as a function without changing the order of the keys: with one
            // (or any other object, which the serializer ignores), the value's nesting is bounded first.
            if (replacer is ObjectInstance && !replacer.IsCallable())
            {
                if (JsonDepth(Arg(args, 0), 0) > MaxJsonDepth)
                {
                    throw new JavaScriptException(sandbox.Engine.Construct(sandbox.Engine.Global.Get("RangeError"),
                        $"JSON.stringify with a property list: the value nests deeper than {MaxJsonDepth} arrays or objects"));
                }

                return sandbox.Engine.Call(original, thisObj, args);
            }

            var watched = new ClrFunction(sandbox.Engine, "", (holder, callArgs) =>
            {
                sandbox.CheckDeadline();
                return replacer.IsCallable() ? sandbox.Engine.Call(replacer, holder, callArgs) : Arg(callArgs, 1);
            }, 2);
            return sandbox.Engine.Call(original, thisObj, [Arg(args, 0), watched, Arg(args, 2)]);
        });
    }

    /// <summary>Arrays or plain objects nested deeper than this are refused by <c>JSON.stringify</c> given a property list.</summary>
    private const int MaxJsonDepth = 1000;

    /// <summary>How deep arrays and plain objects nest in <paramref name="value"/>, counted up to just past <see cref="MaxJsonDepth"/>.</summary>
    private static int JsonDepth(JsValue value, int depth)
    {
        if (depth > MaxJsonDepth || value is not (JsArray or JsObject))
        {
            return depth;
        }

        var deepest = depth + 1;
        var inspected = 0;
        foreach (var (_, descriptor) in ((ObjectInstance)value).GetOwnProperties())
        {
            if (deepest > MaxJsonDepth || inspected++ > MaxInspected)
            {
                break;
            }

            if (descriptor.IsDataDescriptor())
            {
                deepest = Math.Max(deepest, JsonDepth(descriptor.Value, depth + 1));
            }
        }

        return deepest;
    }

    private static JsValue Replace(ExpressionSandbox sandbox, JsValue original, JsValue thisObj, JsValue[] args, bool all)
    {
        var search = Arg(args, 0);
        var replacement = Arg(args, 1);

        // A regular expression (any object) dispatches to its [Symbol.replace], which is guarded itself; a callback's
        // results are built by script, statement by statement.
        if (IsNullOrUndefined(thisObj) || search is ObjectInstance || replacement.IsCallable())
        {
            return sandbox.Engine.Call(original, thisObj, args);
        }

        var text = TypeConverter.ToString(thisObj);
        var needle = TypeConverter.ToString(search);
        var pattern = TypeConverter.ToString(replacement);
        var matches = all ? Occurrences(text, needle) : text.Contains(needle, StringComparison.Ordinal) ? 1 : 0;
        sandbox.Charge(text.Length + matches * PerMatch(pattern, text));
        return sandbox.Engine.Call(original, text, [needle, pattern]);
    }

    private static void ChargeJoin(ExpressionSandbox sandbox, ObjectInstance list, int separatorLength)
    {
        var length = TypeConverter.ToLength(list.Get("length"));
        var total = length > 0 ? (length - 1) * (double)separatorLength : 0;
        // At least a character's worth per element: an array-like claiming a billion elements ({length: 1e9}) is refused
        // before the join visits each of them.
        sandbox.Charge(total + length);
        sandbox.Charge(total + ElementChars(list, Math.Min(length, (ulong)MaxInspected), sandbox.RemainingChars - total));
    }

    /// <summary>The most one match's replacement can add: every <c>$</c> may insert up to the whole subject ($&amp;, $`, $').</summary>
    private static double PerMatch(string pattern, string text)
    {
        var dollars = 0;
        foreach (var c in pattern)
        {
            if (c == '$')
            {
                dollars++;
            }
        }

        return pattern.Length + (double)dollars * text.Length;
    }

    private static double Occurrences(string text, string needle)
    {
        if (needle.Length == 0)
        {
            return text.Length + 1.0;
        }

        var count = 0;
        for (var at = text.IndexOf(needle, StringComparison.Ordinal); at >= 0; at = text.IndexOf(needle, at + needle.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>Characters of the strings among the first <paramref name="count"/> elements; stops once past <paramref name="limit"/>.</summary>
    private static double ElementChars(ObjectInstance list, ulong count, double limit)
    {
        double total = 0;
        if (list is JsArray array)
        {
            for (uint i = 0; i < count && total <= limit; i++)
            {
                if (array.TryGetValue(i, out var element) && element is JsString text)
                {
                    total += text.Length;
                }
            }

            return total;
        }

        for (ulong i = 0; i < count && total <= limit; i++)
        {
            if (list.Get(i) is JsString text)
            {
                total += text.Length;
            }
        }

        return total;
    }

    /// <summary>
    /// A lower bound on the JSON text of arrays, plain objects and strings; other values (numbers, objects with
    /// getters or <c>toJSON</c>, proxies) are left to the statement-level checks. Stops once past <paramref name="limit"/>.
    /// </summary>
    private static double JsonChars(JsValue value, int depth, double indent, double limit, ref int inspected)
    {
        if (value is JsString text)
        {
            return text.Length + 2;
        }

        if (depth > MaxDepth || inspected > MaxInspected)
        {
            return 0;
        }

        double total = 0;
        var layout = indent * depth + 1;
        if (value is JsArray array)
        {
            var length = array.Length;
            for (uint i = 0; i < length && total <= limit && inspected <= MaxInspected; i++, inspected++)
            {
                total += layout + (array.TryGetValue(i, out var element) ? JsonChars(element, depth + 1, indent, limit - total, ref inspected) : 4);
            }
        }
        else if (value is JsObject plain)
        {
            foreach (var (key, descriptor) in plain.GetOwnProperties())
            {
                if (total > limit || inspected++ > MaxInspected)
                {
                    break;
                }

                if (key is JsString name && descriptor.Enumerable && descriptor.IsDataDescriptor())
                {
                    total += layout + name.Length + 3 + JsonChars(descriptor.Value, depth + 1, indent, limit - total, ref inspected);
                }
            }
        }

        return total;
    }

    /// <summary>
    /// What a value that is one element per character costs, in characters of the memory limit: a small string or
    /// number and its slot (about 64 bytes), so a call making one per character of a 125,000-character string is refused.
    /// </summary>
    private const double PerElement = 32;

    /// <summary>
    /// The elements a call makes one object each for: the characters of a string or of a <c>String</c> object (its
    /// <c>length</c> is the one own data property that is neither writable nor configurable), the slots of an array.
    /// Read without running script; 0 for anything else.
    /// </summary>
    private static double ElementsOf(JsValue value) => value switch
    {
        JsString text => text.Length,
        JsArray array => array.Length,
        ObjectInstance boxed when boxed.GetOwnProperty("length") is { Writable: false, Configurable: false } length
            && length.IsDataDescriptor() && length.Value is JsNumber number => number.AsNumber(),
        _ => 0,
    };

    /// <summary>Charges <paramref name="perElement"/> characters for each of the value's elements (<see cref="ElementsOf"/>).</summary>
    private static void ChargeElements(ExpressionSandbox sandbox, double perElement, JsValue value)
    {
        var elements = ElementsOf(value);
        if (elements > 0)
        {
            sandbox.Charge(perElement * elements);
        }
    }

    private static ObjectInstance Prototype(ObjectInstance constructor) => constructor.Get("prototype").AsObject();

    private static bool IsNullOrUndefined(JsValue value) => value.IsNull() || value.IsUndefined();

    private static JsValue Arg(JsValue[] args, int index) => index < args.Length ? args[index] : JsValue.Undefined;

    private static void Wrap(ExpressionSandbox sandbox, ObjectInstance target, string name, int length, Func<JsValue, JsValue, JsValue[], JsValue> guarded) =>
        Wrap(sandbox, target, name, name, length, guarded);

    private static void Wrap(ExpressionSandbox sandbox, ObjectInstance target, JsValue key, string name, int length, Func<JsValue, JsValue, JsValue[], JsValue> guarded)
    {
        var original = target.Get(key);
        var wrapper = new ClrFunction(sandbox.Engine, name, (thisObj, args) => guarded(original, thisObj, args), length);
        target.DefineOwnProperty(key, new PropertyDescriptor(wrapper, writable: true, enumerable: false, configurable: true));
    }
}
