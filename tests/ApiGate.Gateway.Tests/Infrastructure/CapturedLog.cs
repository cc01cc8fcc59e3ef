namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>A gateway's log output (<c>options.LogWriter = log.Writer</c>), written and read under one lock, so several instances may share one.</summary>
internal sealed class CapturedLog
{
    private readonly StringWriter _inner = new();

    public CapturedLog() => Writer = TextWriter.Synchronized(_inner);

    public TextWriter Writer { get; }

    public string Text
    {
        get
        {
            lock (Writer) // TextWriter.Synchronized locks on the wrapper
            {
                return _inner.ToString();
            }
        }
    }
}
