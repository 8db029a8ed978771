using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Pricing;

namespace LlmCost.Cli;

/// <summary><c>llmcost catalog</c>: list, show, validate and import price catalogs.</summary>
internal static class CatalogCommand
{
    public const string Help = """
        llmcost catalog list [--provider ID] [--at TIMESTAMP] [--catalog FILE] [--json]
            every model (of one provider) with its prices in force at TIMESTAMP (default now), USD per million
            tokens / per thousand requests or searches
        llmcost catalog show MODEL [--provider ID] [--at TIMESTAMP] [--catalog FILE]
            resolves MODEL as pricing would (match rules, provider inference) and prints the model with all its
            price tables (historic start dates, off-peak windows)
        """;

    public static async Task<int> RunAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        if (args.Positionals.Count == 0)
        {
            throw new CliUsageException("catalog needs a subcommand: list, show, validate or import");
        }

        string sub = args.Positionals[0];
        return sub switch
        {
            "list" => await ListAsync(args, io, services, cancellationToken).ConfigureAwait(false),
            "show" => await ShowAsync(args, io, services, cancellationToken).ConfigureAwait(false),
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

    private static void WritePrices(Utf8JsonWriter json, string name, PriceTable table)
    {
        json.WriteStartObject(name);
        foreach ((string key, PriceValue value) in table.Prices)
        {
            if (!value.IsTiered)
            {
                json.WriteString(key, Money.Format(value.Base));
                continue;
            }

            json.WriteStartObject(key);
            json.WriteString("base", Money.Format(value.Base));
            json.WriteStartArray("tiers");
            foreach (PriceTier tier in value.Tiers)
            {
                json.WriteStartObject();
                json.WriteNumber("start", tier.Start);
                json.WriteString("price", Money.Format(tier.Price));
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndObject();
    }
}
