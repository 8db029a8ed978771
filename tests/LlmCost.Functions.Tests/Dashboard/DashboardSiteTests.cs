using System.Net;
using System.Security.Cryptography;
using LlmCost.Functions.Apis.Dashboard;
using LlmCost.Functions.Hosting;

namespace LlmCost.Functions.Tests.Dashboard;

/// <summary>The dashboard's files as shipped: embedded, served with their types and policy, and the vendored chart library unchanged.</summary>
public sealed class DashboardSiteTests
{
    private static string SiteFolder([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "../../../src/LlmCost.Functions/Apis/Dashboard/site"));

    [Fact]
    public void Every_file_of_the_site_is_embedded_in_the_app()
    {
        var onDisk = Directory.EnumerateFiles(SiteFolder(), "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(SiteFolder(), f).Replace('\\', '/')).Order(StringComparer.Ordinal);
        Assert.Equal(onDisk, DashboardSite.AssetNames.Order(StringComparer.Ordinal));
        Assert.Contains("index.html", DashboardSite.AssetNames);
        Assert.Contains("vendor/chart.umd.min.js", DashboardSite.AssetNames);
    }

    [Fact]
    public void The_vendored_chart_library_is_the_lockfile_version_byte_for_byte()
    {
        // Committed so a build needs no npm; checked here against what `npm ci` installs from tools/package-lock.json.
        string nodeModules = Environment.GetEnvironmentVariable("LLMCOST_NODE_TOOLS") is { Length: > 0 } n
            ? n
            : Path.Combine(SiteFolder(), "../../../../../tools/node_modules");
        string installed = Path.Combine(nodeModules, "chart.js/dist/chart.umd.min.js");
        Assert.True(File.Exists(installed), $"{installed} is missing: run ./test.sh (it installs tools/ from the lockfile)");
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(installed)), SHA256.HashData(File.ReadAllBytes(Path.Combine(SiteFolder(), "vendor/chart.umd.min.js"))));
    }

    [Fact]
    public void The_page_loads_only_its_own_files_and_no_inline_script()
    {
        string html = File.ReadAllText(Path.Combine(SiteFolder(), "index.html"));
        Assert.DoesNotMatch("<script(?![^>]*\\bsrc=)[^>]*>", html);
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", html);
        Assert.DoesNotMatch("<[^>]+\\son[a-z]+=", html);
        foreach (string script in Directory.EnumerateFiles(SiteFolder(), "*.js").Where(f => !f.Contains("vendor", StringComparison.Ordinal)))
        {
            string code = File.ReadAllText(script);
            Assert.DoesNotContain("eval(", code, StringComparison.Ordinal);
            Assert.DoesNotContain("new Function", code, StringComparison.Ordinal);
            Assert.DoesNotContain("localStorage.setItem", code, StringComparison.Ordinal);
            Assert.DoesNotContain("innerHTML", code, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_dashboard_is_a_functions_route_outside_api()
    {
        string functionJson = File.ReadAllText(Path.Combine(SiteFolder(), "../../../../../functions/Dashboard/function.json"));
        var definition = FunctionManifest.ReadFunctionJson("Dashboard", functionJson);
        Assert.Equal("dashboard/{*path}", definition.Route);
        Assert.Equal(["get", "head"], definition.Methods);
        Assert.Empty(FunctionsHostSettings.RoutePrefix);
    }
}
