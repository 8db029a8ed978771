using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Net.Http.Headers;

namespace LlmCost.Functions.Apis.Dashboard;

/// <summary>
/// Serves the dashboard's files (HTML, CSS, JS modules and the vendored chart library) from resources embedded in
/// the app, so they deploy with it and nothing is fetched from the internet at run time. One endpoint,
/// <c>/dashboard/{**path}</c>, which is also an Azure Functions HTTP route (<see cref="HostRoutedEndpoint"/>).
/// Every answer carries a strict Content-Security-Policy: scripts, styles and API calls from this origin only; no
/// inline script or style, no eval, no framing. The page is a client of the public API and needs no key to load;
/// its data calls carry the key in the Authorization header.
/// </summary>
internal static class DashboardSite
{
    public const string Path = "/dashboard";

    /// <summary>The policy on every dashboard response (also on its 404s and redirects).</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; "
        + "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private const string ResourcePrefix = "dashboard/";
    private static readonly Lazy<FrozenDictionary<string, Asset>> s_assets = new(Load);

    private sealed record Asset(byte[] Content, string ContentType, EntityTagHeaderValue ETag);

    public static IEndpointRouteBuilder MapDashboardSite(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMethods(Path + "/{**path}", [HttpMethods.Get, HttpMethods.Head], Serve)
            .AllowAnonymous()
            .WithName("Dashboard")
            .WithMetadata(HostRoutedEndpoint.Instance)
            .ExcludeFromDescription();
        return endpoints;
    }

    /// <summary>The asset names (for tests and diagnostics).</summary>
    public static IReadOnlyCollection<string> AssetNames => s_assets.Value.Keys;

    private static IResult Serve(HttpContext http, string? path)
    {
        IHeaderDictionary headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        // Revalidate every time (cheap: ETag): a redeployed app must never run a stale page against a new API.
        headers.CacheControl = "no-cache";

        // Relative asset URLs in the page resolve against /dashboard/, not /.
        if (string.IsNullOrEmpty(path) && !http.Request.Path.Value!.EndsWith('/'))
        {
            return TypedResults.Redirect(Path + "/");
        }

        string name = string.IsNullOrEmpty(path) ? "index.html" : path;
        if (!s_assets.Value.TryGetValue(name, out Asset? asset))
        {
            return TypedResults.NotFound();
        }

        return TypedResults.Bytes(asset.Content, asset.ContentType, entityTag: asset.ETag);
    }

    private static FrozenDictionary<string, Asset> Load()
    {
        var types = new FileExtensionContentTypeProvider();
        Assembly assembly = typeof(DashboardSite).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames())
        {
            string normalized = resource.Replace('\\', '/');
            if (!normalized.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            byte[] content = buffer.ToArray();
            string name = normalized[ResourcePrefix.Length..];
            string type = types.TryGetContentType(name, out string? known) ? known : "application/octet-stream";
            if (type.StartsWith("text/", StringComparison.Ordinal) || type == "application/javascript")
            {
                type += "; charset=utf-8";
            }

            string hash = Convert.ToHexStringLower(SHA256.HashData(content))[..32];
            assets[name] = new Asset(content, type, new EntityTagHeaderValue($"\"{hash}\""));
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
