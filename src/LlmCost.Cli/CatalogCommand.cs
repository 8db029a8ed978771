// Long on purpose: `llmcost catalog` list, show, validate and import, with their table and JSON outputs.
using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core;

namespace LlmCost.Cli;

/// <summary><c>llmcost catalog</c>: list, show, validate, import and publish price catalogs.</summary>
internal static class CatalogCommand
{
    public const string Help = """
        llmcost catalog list [--provider ID] [--at TIMESTAMP] [--catalog FILE] [--json]
            every model (of one provider) with its prices in force at TIMESTAMP (default now), USD per million
            tokens / per thousand requests or searches
        llmcost catalog show MODEL [--provider ID] [--at TIMESTAMP] [--catalog FILE]
            resolves MODEL as pricing would (match rules, provider inference) and prints the model with all its
            price tables (historic start dates, off-peak windows)
        llmcost catalog validate FILE [--format genai-prices|litellm] [--json]
            loads a genai-prices or LiteLLM price file (format detected from its shape) and prints every issue
            (per-million prices typed as per-token, cache read above input, chat model marked embedding, ...);
            exit code 1 when the file cannot be loaded or has error-level issues
        llmcost catalog publish FILE --url SERVICE_URL [--key-env LLMCOST_API_KEY | --key KEY]
            validates FILE as `catalog validate` does and, when it has no error-level issue, uploads it to the
            service (admin key), which validates it again and publishes it as a new catalog version; every
            instance prices with it within LlmCost:Pricing:CatalogPollSeconds. Prints the version (JSON);
            exit code 1 (nothing published) when the file or the service refuses it
        llmcost catalog import FILE [--format ...] [--to catalog|policy] [--tenant ID] [--at TIMESTAMP]
                               [--include-suspicious] [--out FILE]
            converts FILE into the service's formats: --to catalog (default) writes a genai-prices catalog the
            service and --catalog load; --to policy writes custom prices of a pricing policy (under
            tenants.ID.models with --tenant), using the prices in force at --at. Entries with error-level
            issues are left out unless --include-suspicious; issues are reported on stderr.
        """;

    public static async Task<int> RunAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        if (args.Positionals.Count == 0)
        {
            throw new CliUsageException("catalog needs a subcommand: list, show, validate, import or publish");
        }

        string sub = args.Positionals[0];
        return sub switch
        {
            "list" => await ListAsync(args, io, services, cancellationToken).ConfigureAwait(false),
            "show" => await ShowAsync(args, io, services, cancellationToken).ConfigureAwait(false),
            "validate" => await ValidateAsync(args, io, cancellationToken).ConfigureAwait(false),
            "import" => await ImportAsync(args, io, services, cancellationToken).ConfigureAwait(false),
            "publish" => await PublishAsync(args, io, cancellationToken).ConfigureAwait(false),
            _ => throw new CliUsageException($"unknown catalog subcommand '{sub}'"),
        };
    }

    private static DateTimeOffset At(CliArgs args, CliServices services)
    {
        string? text = args.Option("at");
        if (text is null)
        {
            return services.Time.GetUtcNow();
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset at)
            ? at
            : throw new CliUsageException($"--at must be an ISO 8601 date-time, got '{text}'");
    }

    private static async Task<int> ListAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        string? provider = args.Option("provider");
        DateTimeOffset at = At(args, services);
        bool asJson = args.Flag("json");
        PriceCatalog catalog = services.CatalogLoader(args.Option("catalog"));
        args.EnsureAllUsed();
        if (args.Positionals.Count > 1)
        {
            throw new CliUsageException("catalog list takes no positional arguments");
        }

        IEnumerable<CatalogModelPrice> models;
        if (provider is null)
        {
            models = catalog.ListModels(at);
        }
        else
        {
            if (catalog.FindProvider(provider) is null)
            {
                throw new CliUsageException($"unknown provider '{provider}' (known: {string.Join(", ", catalog.Providers.Select(p => p.Id))})");
            }

            models = catalog.ModelsOf(provider, at);
        }

        if (!asJson)
        {
            await using var text = new StreamWriter(io.Output, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
            foreach (CatalogModelPrice model in models)
            {
                string prices = string.Join(" ", model.Table.Prices.Select(p => $"{p.Key}={p.Value}"));
                await text.WriteLineAsync($"{model.ProviderId}\t{model.ModelId}\t{prices}".AsMemory(), cancellationToken).ConfigureAwait(false);
            }

            return 0;
        }

        await using var writer = new JsonLineWriter(io.Output);
        foreach (CatalogModelPrice model in models)
        {
            Utf8JsonWriter json = writer.Json;
            json.WriteStartObject();
            json.WriteString("provider_id", model.ProviderId);
            json.WriteString("model_id", model.ModelId);
            if (model.Model.Name is { } name)
            {
                json.WriteString("name", name);
            }

            if (model.Entry.Constraint is { } constraint)
            {
                json.WriteString("price_variant", constraint.ToString());
            }

            WritePrices(json, "prices", model.Table);
            json.WriteEndObject();
            await writer.EndLineAsync(cancellationToken).ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task<int> ShowAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        if (args.Positionals.Count != 2)
        {
            throw new CliUsageException("catalog show needs exactly one MODEL");
        }

        string modelName = args.Positionals[1];
        string? provider = args.Option("provider");
        DateTimeOffset at = At(args, services);
        PriceCatalog catalog = services.CatalogLoader(args.Option("catalog"));
        args.EnsureAllUsed();
        if (!catalog.TryResolve(provider, modelName, at, out CatalogModelPrice resolved))
        {
            await io.Error.WriteLineAsync($"llmcost catalog show: no price for model '{modelName}'{(provider is null ? "" : $" of provider '{provider}'")}").ConfigureAwait(false);
            return 1;
        }

        await using var writer = new JsonLineWriter(io.Output);
        Utf8JsonWriter json = writer.Json;
        json.WriteStartObject();
        json.WriteString("requested", modelName);
        json.WriteString("provider_id", resolved.ProviderId);
        json.WriteString("model_id", resolved.ModelId);
        if (resolved.Model.Name is { } name)
        {
            json.WriteString("name", name);
        }

        if (resolved.Model.ContextWindow is { } window)
        {
            json.WriteNumber("context_window", window);
        }

        json.WriteString("match", resolved.Model.Match.ToString());
        json.WriteString("source", catalog.Source);
        json.WriteString("at", at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        WritePrices(json, "prices_in_force", resolved.Table);
        json.WriteStartArray("price_tables");
        foreach (PriceEntry entry in resolved.Model.Prices)
        {
            json.WriteStartObject();
            if (entry.Constraint is { } constraint)
            {
                json.WriteString("constraint", constraint.ToString());
            }

            WritePrices(json, "prices", entry.Table);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        await writer.EndLineAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private static CatalogLoadResult LoadFile(CliArgs args, string command, bool includeSuspicious)
    {
        if (args.Positionals.Count != 2)
        {
            throw new CliUsageException($"catalog {command} needs exactly one FILE");
        }

        string? format = args.Option("format");
        CatalogFormat? expected = format switch
        {
            null => null,
            "genai-prices" => CatalogFormat.GenaiPrices,
            "litellm" => CatalogFormat.LiteLlm,
            _ => throw new CliUsageException($"--format must be genai-prices or litellm, got '{format}'"),
        };
        CatalogLoadResult result = CatalogLoader.LoadFile(args.Positionals[1], includeSuspicious);
        if (result.Success && expected is not null && result.Format != expected)
        {
            return result with { Catalog = null, Error = $"{args.Positionals[1]}: --format {format} given, but the file is in {FormatName(result.Format)} format" };
        }

        return result;
    }

    private static string FormatName(CatalogFormat? format) => format switch
    {
        CatalogFormat.GenaiPrices => "genai-prices",
        CatalogFormat.LiteLlm => "litellm",
        _ => "unknown",
    };

    private static async Task<int> ValidateAsync(CliArgs args, CliStreams io, CancellationToken cancellationToken)
    {
        bool asJson = args.Flag("json");
        CatalogLoadResult result = LoadFile(args, "validate", includeSuspicious: true);
        args.EnsureAllUsed();
        int errors = result.Issues.Count(i => i.Severity == IssueSeverity.Error);
        int warnings = result.Issues.Count(i => i.Severity == IssueSeverity.Warning);
        await using var writer = new JsonLineWriter(io.Output);
        if (asJson)
        {
            foreach (CatalogIssue issue in result.Issues)
            {
                Utf8JsonWriter json = writer.Json;
                json.WriteStartObject();
                json.WriteString("severity", issue.Severity.ToString().ToLowerInvariant());
                json.WriteString("provider_id", issue.ProviderId);
                if (issue.ModelId is not null)
                {
                    json.WriteString("model_id", issue.ModelId);
                }

                json.WriteString("code", issue.Code);
                json.WriteString("message", issue.Message);
                json.WriteEndObject();
                await writer.EndLineAsync(cancellationToken).ConfigureAwait(false);
            }

            Utf8JsonWriter summary = writer.Json;
            summary.WriteStartObject();
            summary.WriteBoolean("loaded", result.Success);
            if (result.Error is not null)
            {
                summary.WriteString("error", result.Error);
            }
            else
            {
                summary.WriteString("format", FormatName(result.Format));
                summary.WriteNumber("models", result.Catalog!.ModelCount);
            }

            summary.WriteNumber("errors", errors);
            summary.WriteNumber("warnings", warnings);
            summary.WriteNumber("infos", result.Issues.Count - errors - warnings);
            summary.WriteEndObject();
            await writer.EndLineAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            await using var text = new StreamWriter(io.Output, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
            foreach (CatalogIssue issue in result.Issues)
            {
                await text.WriteLineAsync(issue.ToString().AsMemory(), cancellationToken).ConfigureAwait(false);
            }

            string summary = result.Error is not null
                ? $"not loaded: {result.Error}"
                : $"{FormatName(result.Format)} catalog, {result.Catalog!.ModelCount} models: {errors} errors, {warnings} warnings, {result.Issues.Count - errors - warnings} infos";
            await text.WriteLineAsync(summary.AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        return result.Success && errors == 0 ? 0 : 1;
    }

    private static async Task<int> PublishAsync(CliArgs args, CliStreams io, CancellationToken cancellationToken)
    {
        string urlText = args.Option("url") ?? throw new CliUsageException("--url is required (the service, e.g. http://127.0.0.1:7071)");
        string? key = args.Option("key");
        string? keyVariable = args.Option("key-env");
        CatalogLoadResult result = LoadFile(args, "publish", includeSuspicious: true);
        args.EnsureAllUsed();
        if (!Uri.TryCreate(urlText, UriKind.Absolute, out Uri? url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliUsageException($"--url must be an absolute http(s) URL, got '{urlText}'");
        }

        if (key is null)
        {
            // A key on the command line lands in shell history and process lists: prefer the environment.
            string variable = keyVariable ?? "LLMCOST_API_KEY";
            key = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(key))
            {
                throw new CliUsageException($"an admin key is needed: set {variable} (or --key-env NAME, or --key KEY)");
            }
        }

        foreach (CatalogIssue issue in result.Issues.Where(i => i.Severity != IssueSeverity.Info))
        {
            await io.Error.WriteLineAsync(issue.ToString()).ConfigureAwait(false);
        }

        if (!result.Success || result.Issues.Any(i => i.Severity == IssueSeverity.Error))
        {
            await io.Error.WriteLineAsync(result.Error is not null
                ? $"not published: {result.Error}"
                : "not published: the catalog has error-level issues (above)").ConfigureAwait(false);
            return 1;
        }

        string root = url.GetLeftPart(UriPartial.Path);
        int api = root.IndexOf("/api/", StringComparison.Ordinal);
        var endpoint = new Uri(new Uri(api >= 0 ? root[..(api + 1)] : root.TrimEnd('/') + "/"), "api/pricing/catalogs");
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new ByteArrayContent(await File.ReadAllBytesAsync(args.Positionals[1], cancellationToken).ConfigureAwait(false)),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        using HttpResponseMessage response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        byte[] answer = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            await io.Error.WriteLineAsync($"not published: the service answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(answer)}").ConfigureAwait(false);
            return 1;
        }

        await io.Output.WriteAsync(answer, cancellationToken).ConfigureAwait(false);
        await io.Output.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> ImportAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        string to = args.Option("to") ?? "catalog";
        string? tenant = args.Option("tenant");
        string? outPath = args.Option("out");
        bool includeSuspicious = args.Flag("include-suspicious");
        DateTimeOffset at = At(args, services);
        CatalogLoadResult result = LoadFile(args, "import", includeSuspicious);
        args.EnsureAllUsed();
        if (to is not ("catalog" or "policy"))
        {
            throw new CliUsageException($"--to must be catalog or policy, got '{to}'");
        }

        if (tenant is not null && to != "policy")
        {
            throw new CliUsageException("--tenant only applies with --to policy");
        }

        foreach (CatalogIssue issue in result.Issues)
        {
            await io.Error.WriteLineAsync(issue.ToString()).ConfigureAwait(false);
        }

        if (!result.Success)
        {
            await io.Error.WriteLineAsync($"llmcost catalog import: {result.Error}").ConfigureAwait(false);
            return 1;
        }

        foreach (string excluded in result.Excluded)
        {
            await io.Error.WriteLineAsync($"left out (error-level issues; --include-suspicious keeps it): {excluded}").ConfigureAwait(false);
        }

        Stream output = outPath is null ? io.Output : File.Create(outPath);
        try
        {
            await using var writer = new JsonLineWriter(output);
            if (to == "catalog")
            {
                CatalogJsonWriter.WriteGenaiPrices(writer.Json, WithoutExcluded(result));
            }
            else
            {
                CatalogJsonWriter.WritePolicy(writer.Json, WithoutExcluded(result), at, tenant);
            }

            await writer.EndLineAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (outPath is not null)
            {
                await output.DisposeAsync().ConfigureAwait(false);
            }
        }

        return 0;
    }

    /// <summary>The loader keeps rejected entries (so their names do not fall through to other prices); an export drops them.</summary>
    private static PriceCatalog WithoutExcluded(CatalogLoadResult result)
    {
        PriceCatalog catalog = result.Catalog!;
        if (result.Excluded.Count == 0)
        {
            return catalog;
        }

        var excluded = new HashSet<string>(result.Excluded, StringComparer.Ordinal);
        var providers = catalog.Providers
            .Select(p => new CatalogProvider(p.Id, p.Name, p.Models.Where(m => !excluded.Contains($"{p.Id}/{m.Id}")).ToList())
            {
                ApiPattern = p.ApiPattern,
                ProviderMatch = p.ProviderMatch,
                ModelMatch = p.ModelMatch,
                FallbackModelProviders = p.FallbackModelProviders,
                PricingUrls = p.PricingUrls,
            })
            .ToList();
        return new PriceCatalog(providers, catalog.Source);
    }

    private static void WritePrices(Utf8JsonWriter json, string name, PriceTable table)
    {
        json.WritePropertyName(name);
        CatalogJsonWriter.WriteTable(json, table, moneyAsString: true);
    }
}
