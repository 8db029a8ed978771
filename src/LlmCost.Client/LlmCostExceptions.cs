namespace LlmCost.Client;

/// <summary>Base of the exceptions this library throws for the service's failures.</summary>
public class LlmCostException : Exception
{
    public LlmCostException()
    {
    }

    public LlmCostException(string message)
        : base(message)
    {
    }

    public LlmCostException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The service could not be reached or answered 5xx/429 after the retries (an outage, not an answer).</summary>
public sealed class LlmCostUnavailableException : LlmCostException
{
    public LlmCostUnavailableException()
    {
    }

    public LlmCostUnavailableException(string message)
        : base(message)
    {
    }

    public LlmCostUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The service answered with an error that retrying cannot fix (400, 401, 403, 404, 413...).</summary>
public sealed class LlmCostApiException : LlmCostException
{
    public LlmCostApiException(int statusCode, ApiProblem? problem, string message)
        : base(message)
    {
        StatusCode = statusCode;
        Problem = problem;
    }

    public LlmCostApiException()
    {
    }

    public LlmCostApiException(string message)
        : base(message)
    {
    }

    public LlmCostApiException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public int StatusCode { get; }

    /// <summary>The problem details the service sent (fields named in <see cref="ApiProblem.Errors"/>), if any.</summary>
    public ApiProblem? Problem { get; }
}

/// <summary>The budget service denied the call before it was made.</summary>
public sealed class LlmCostBudgetDeniedException : LlmCostException
{
    public LlmCostBudgetDeniedException(AuthorizeResponse decision, string reason)
        : base(reason)
    {
        ArgumentNullException.ThrowIfNull(decision);
        Decision = decision;
        Reason = reason;
        BudgetId = decision.BudgetId;
        Budgets = decision.Budgets;
    }

    public LlmCostBudgetDeniedException()
    {
        Reason = string.Empty;
        Budgets = [];
    }

    public LlmCostBudgetDeniedException(string message)
        : base(message)
    {
        Reason = message;
        Budgets = [];
    }

    public LlmCostBudgetDeniedException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Reason = message;
        Budgets = [];
    }

    /// <summary>Why (the service's reason, or the downgrade that the app did not allow).</summary>
    public string Reason { get; }

    /// <summary>The budget that was hit, when one was.</summary>
    public string? BudgetId { get; }

    /// <summary>Where every applicable budget stands.</summary>
    public IReadOnlyList<BudgetStanding> Budgets { get; }

    /// <summary>The whole answer of the service (null only for the parameterless constructors).</summary>
    public AuthorizeResponse? Decision { get; }
}
