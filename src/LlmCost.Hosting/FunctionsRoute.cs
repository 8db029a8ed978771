using System.Text;
using Microsoft.AspNetCore.Routing.Patterns;

namespace LlmCost.Hosting;

/// <summary>
/// Turns an ASP.NET Core route pattern ("/api/users/{userId:int}/usage/{day?}") into the function.json route
/// ("api/users/{userId:int}/usage/{day?}"; host.json's routePrefix is empty). Every /api endpoint is a function;
/// an endpoint elsewhere only when it asks to be (<see cref="HostRoutedEndpoint"/>: the dashboard). The host matches with ASP.NET-style templates and
/// forwards the request to the app, which routes it again with the full pattern; so the function route keeps what
/// the host understands (the built-in constraints, optional and catch-all parameters) and drops the rest (custom
/// constraints, defaults become optional), matching a superset the app then narrows.
/// </summary>
public static class FunctionsRoute
{
    private static readonly HashSet<string> HostConstraints = new(StringComparer.OrdinalIgnoreCase)
    {
        "int", "long", "bool", "datetime", "decimal", "double", "float", "guid", "alpha",
        "min", "max", "range", "minlength", "maxlength", "length", "regex",
    };

    /// <summary>The app's own API prefix: every endpoint below it is an HTTP function.</summary>
    public const string ApiSegment = "api";

    /// <summary>The function route, or null when the pattern is neither under /api nor <paramref name="hostRouted"/>.</summary>
    public static string? FromPattern(RoutePattern pattern, bool hostRouted = false)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (pattern.PathSegments.Count == 0 || (!hostRouted && !IsLiteral(pattern.PathSegments[0], ApiSegment)))
        {
            return null;
        }

        return string.Join('/', pattern.PathSegments.Select(TranslateSegment));
    }

    private static bool IsLiteral(RoutePatternPathSegment segment, string text) =>
        segment.IsSimple && segment.Parts[0] is RoutePatternLiteralPart literal &&
        string.Equals(literal.Content, text, StringComparison.OrdinalIgnoreCase);

    private static string TranslateSegment(RoutePatternPathSegment segment)
    {
        var builder = new StringBuilder();
        foreach (var part in segment.Parts)
        {
            switch (part)
            {
                case RoutePatternLiteralPart literal:
                    builder.Append(literal.Content);
                    break;
                case RoutePatternSeparatorPart separator:
                    builder.Append(separator.Content);
                    break;
                case RoutePatternParameterPart parameter:
                    builder.Append(TranslateParameter(parameter));
                    break;
                default:
                    throw new InvalidOperationException($"Unsupported route part {part.GetType().Name}.");
            }
        }

        return builder.ToString();
    }

    private static string TranslateParameter(RoutePatternParameterPart parameter)
    {
        var builder = new StringBuilder("{");
        if (parameter.IsCatchAll)
        {
            builder.Append('*');
        }

        builder.Append(parameter.Name);
        foreach (var policy in parameter.ParameterPolicies)
        {
            var content = policy.Content;
            if (string.IsNullOrEmpty(content))
            {
                continue;
            }

            var open = content.IndexOf('(', StringComparison.Ordinal);
            var constraintName = open < 0 ? content : content[..open];
            if (HostConstraints.Contains(constraintName))
            {
                builder.Append(':').Append(content);
            }
        }

        // A default value is supplied by the app after forwarding; for the host the segment is simply optional.
        if ((parameter.IsOptional || parameter.Default is not null) && !parameter.IsCatchAll)
        {
            builder.Append('?');
        }

        return builder.Append('}').ToString();
    }
}

/// <summary>
/// Endpoint metadata: serve this endpoint through the Functions host although it is outside /api (it then needs a
/// name like any function). Only for what a browser loads directly; the API stays under /api.
/// </summary>
public sealed class HostRoutedEndpoint
{
    public static HostRoutedEndpoint Instance { get; } = new();
}
