using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LlmCost.Functions.Tests.Infrastructure;

/// <summary>One captured log entry: everything a sink could write (message, state values, scopes, exception).</summary>
public sealed record CapturedLog(string Category, LogLevel Level, EventId EventId, string Text, Exception? Exception);

/// <summary>
/// A logger provider that keeps every entry at every level, with the formatted message, every structured state
/// value, every active scope and the full exception text, so tests can search what any real sink would receive.
/// </summary>
public sealed class CapturingLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public ConcurrentQueue<CapturedLog> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class CapturingLogger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = new System.Text.StringBuilder(formatter(state, exception));
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
            {
                foreach (var (key, value) in values)
                {
                    text.Append(" | ").Append(key).Append('=').Append(value);
                }
            }

            owner._scopes.ForEachScope((scope, builder) => builder.Append(" | scope ").Append(scope), text);
            if (exception is not null)
            {
                text.Append(" | ").Append(exception);
            }

            owner.Entries.Enqueue(new CapturedLog(category, logLevel, eventId, text.ToString(), exception));
        }
    }
}
