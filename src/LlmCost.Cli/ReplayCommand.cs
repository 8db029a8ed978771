using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;
using LlmCost.Core;

namespace LlmCost.Cli;

/// <summary>
/// <c>llmcost replay</c>: prices every request of the Azure LLM inference trace 2023 and prints totals.
/// </summary>
/// <remarks>
/// The trace (Azure/AzurePublicDataset, CC-BY 4.0; Patel et al., "Splitwise: Efficient generative LLM inference
/// using phase splitting", ISCA 2024) has a timestamp, ContextTokens and GeneratedTokens per request but no user
/// or model. The replay assigns them deterministically: row i's user is the i-th draw of a Zipf(s) distribution
/// over users 1..N from a SplitMix64 stream seeded with --seed (see <see cref="ZipfUsers"/>); a user's model is
/// <c>models[(user - 1) mod models.Count]</c>, so the heaviest user calls the first model. ContextTokens are
/// uncached input, GeneratedTokens output. Each request is priced at its trace timestamp (historic prices apply)
/// unless --at gives one timestamp for all.
/// </remarks>
internal static class ReplayCommand
{
    public const string Attribution =
        "Azure LLM inference trace 2023 (Azure/AzurePublicDataset), CC-BY 4.0. Patel et al., \"Splitwise: " +
        "Efficient generative LLM inference using phase splitting\", ISCA 2024.";

    public const string DefaultModels = "openai:gpt-4o,anthropic:claude-sonnet-4-20250514,google:gemini-2.5-flash,openai:gpt-4o-mini";

    public const string Help = $"""
        llmcost replay [--trace code|conv|all|FILE.csv] [--users N] [--zipf S] [--seed SEED] [--models LIST]
                       [--at TIMESTAMP] [--limit N] [--catalog FILE] [--policy FILE] [--json]
          Prices every request of the Azure LLM inference trace 2023 and prints totals.
          Users: row i gets the i-th draw of Zipf(S) over users 1..N (SplitMix64 seeded with SEED);
          models: user u calls models[(u-1) mod count]. Defaults: --trace all --users 1000 --zipf 1.1 --seed 42
          --models {DefaultModels}
          Requests are priced at their trace timestamps unless --at is given.
          Data: {Attribution}
        """;

    public static async Task<int> RunAsync(CliArgs args, CliStreams io, CliServices services, CancellationToken cancellationToken)
    {
        string trace = args.Option("trace") ?? "all";
        int users = args.IntOption("users", 1000, 1, 10_000_000);
        double exponent = args.DoubleOption("zipf", 1.1, 0, 10);
        string seedText = args.Option("seed") ?? "42";
        if (!ulong.TryParse(seedText, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong seed))
        {
            throw new CliUsageException($"--seed must be a non-negative integer, got '{seedText}'");
        }

        List<(string? Provider, string Model)> models = ParseModels(args.Option("models") ?? DefaultModels);
        DateTimeOffset? at = null;
        if (args.Option("at") is { } atText)
        {
            at = DateTimeOffset.TryParse(atText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed)
                ? parsed
                : throw new CliUsageException($"--at must be an ISO 8601 date-time, got '{atText}'");
        }

        int limit = args.IntOption("limit", int.MaxValue, 1, int.MaxValue);
        bool asJson = args.Flag("json");
        string? catalog = args.Option("catalog");
        string? policy = args.Option("policy");
        args.EnsureAllUsed();

        List<string> files = TraceFiles(trace, services.TraceDirectory);
        IPriceCalculator calculator = services.CalculatorFactory(new PricingSource(catalog, policy));
        var zipf = new ZipfUsers(users, exponent, seed);
        var totals = new ReplayTotals();
        foreach (string file in files)
        {
            using var reader = new StreamReader(file, Encoding.UTF8);
            string? header = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (header is null || !header.StartsWith("TIMESTAMP,ContextTokens,GeneratedTokens", StringComparison.Ordinal))
            {
                throw new CliUsageException($"{file} is not an Azure LLM inference trace (header TIMESTAMP,ContextTokens,GeneratedTokens)");
            }

            long row = 1;
            while (totals.Requests < limit && await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                row++;
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                if (!TryParseRow(line, out DateTimeOffset timestamp, out long input, out long output))
                {
                    throw new CliUsageException($"{Path.GetFileName(file)} row {row}: cannot read '{line}'");
                }

                int user = zipf.Next();
                (string? provider, string model) = models[(user - 1) % models.Count];
                var usage = new CanonicalUsage { InputTokens = input, OutputTokens = output };
                PriceQuote quote = calculator.Price(new PriceRequest(provider, model, at ?? timestamp, usage));
                totals.Add(user, provider is null ? model : $"{provider}:{model}", usage, quote);
            }
        }

        await using var writer = new StreamWriter(io.Output, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        if (asJson)
        {
            await writer.WriteLineAsync(totals.ToJson(files.Select(Path.GetFileName)!, users, exponent, seed)).ConfigureAwait(false);
        }
        else
        {
            await writer.WriteAsync(totals.ToText(files.Select(Path.GetFileName)!, users, exponent, seed)).ConfigureAwait(false);
        }

        return 0;
    }

    internal static List<(string? Provider, string Model)> ParseModels(string text)
    {
        var models = new List<(string?, string)>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int colon = part.IndexOf(':');
            models.Add(colon > 0 ? (part[..colon], part[(colon + 1)..]) : (null, part));
        }

        return models.Count > 0 ? models : throw new CliUsageException("--models needs at least one model");
    }

    internal static List<string> TraceFiles(string trace, string directory)
    {
        string code = Path.Combine(directory, "AzureLLMInferenceTrace_code.csv");
        string conv = Path.Combine(directory, "AzureLLMInferenceTrace_conv.csv");
        List<string> files = trace switch
        {
            "code" => [code],
            "conv" => [conv],
            "all" => [code, conv],
            _ => [trace],
        };
        string? missing = files.FirstOrDefault(f => !File.Exists(f));
        return missing is null ? files : throw new CliUsageException($"trace file not found: {missing}");
    }

    internal static bool TryParseRow(string line, out DateTimeOffset timestamp, out long input, out long output)
    {
        timestamp = default;
        input = output = 0;
        string[] parts = line.Split(',');
        return parts.Length == 3
               && DateTimeOffset.TryParse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out timestamp)
               && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out input)
               && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out output);
    }

    private sealed class ReplayTotals
    {
        private readonly Dictionary<string, (long Calls, long Input, long Output, decimal Cost, long Unpriced)> _byModel = new(StringComparer.Ordinal);
        private readonly Dictionary<int, (long Calls, decimal Cost)> _byUser = [];

        public long Requests { get; private set; }

        public long Unpriced { get; private set; }

        public long InputTokens { get; private set; }

        public long OutputTokens { get; private set; }

        public decimal CostUsd { get; private set; }

        /// <summary>Every usage unit's total (the trace has input and output tokens; the sum carries whatever the usage has).</summary>
        public CanonicalUsage Units { get; private set; } = CanonicalUsage.None;

        public void Add(int user, string model, CanonicalUsage usage, PriceQuote quote)
        {
            Requests++;
            Units += usage;
            InputTokens += usage.InputTokens;
            OutputTokens += usage.OutputTokens;
            decimal cost = quote.Priced ? quote.CostUsd : 0m;
            if (!quote.Priced)
            {
                Unpriced++;
            }

            CostUsd += cost;
            _byModel.TryGetValue(model, out var m);
            _byModel[model] = (m.Calls + 1, m.Input + usage.InputTokens, m.Output + usage.OutputTokens, m.Cost + cost, m.Unpriced + (quote.Priced ? 0 : 1));
            _byUser.TryGetValue(user, out var u);
            _byUser[user] = (u.Calls + 1, u.Cost + cost);
        }

        public string ToText(IEnumerable<string> files, int users, double exponent, ulong seed)
        {
            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"trace: {string.Join(", ", files)}");
            text.AppendLine(CultureInfo.InvariantCulture, $"users: zipf(s={exponent}) over {users}, seed {seed}; distinct users seen: {_byUser.Count}");
            text.AppendLine(CultureInfo.InvariantCulture, $"requests: {Requests} (unpriced: {Unpriced})");
            text.AppendLine(CultureInfo.InvariantCulture, $"input_tokens: {InputTokens}");
            text.AppendLine(CultureInfo.InvariantCulture, $"output_tokens: {OutputTokens}");
            text.AppendLine(CultureInfo.InvariantCulture, $"cost_usd: {MoneyFormat.Format(CostUsd)}");
            text.AppendLine(CultureInfo.InvariantCulture, $"units: {string.Join(", ", Units.ToDictionary().Where(u => u.Key != "requests").Select(u => $"{u.Key} {u.Value}"))}");
            text.AppendLine("by model:");
            foreach ((string model, var m) in _byModel.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"  {model}: calls {m.Calls}, input {m.Input}, output {m.Output}, cost_usd {MoneyFormat.Format(m.Cost)}{(m.Unpriced > 0 ? $", UNPRICED {m.Unpriced}" : "")}");
            }

            text.AppendLine("top users:");
            foreach ((int user, var u) in TopUsers())
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  user-{user}: calls {u.Calls}, cost_usd {MoneyFormat.Format(u.Cost)}");
            }

            text.AppendLine(CultureInfo.InvariantCulture, $"data: {Attribution}");
            return text.ToString();
        }

        public string ToJson(IEnumerable<string> files, int users, double exponent, ulong seed)
        {
            using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream))
            {
                json.WriteStartObject();
                json.WriteStartArray("trace");
                foreach (string file in files)
                {
                    json.WriteStringValue(file);
                }

                json.WriteEndArray();
                json.WriteNumber("users", users);
                json.WriteNumber("zipf_s", exponent);
                json.WriteNumber("seed", seed);
                json.WriteNumber("distinct_users", _byUser.Count);
                json.WriteNumber("requests", Requests);
                json.WriteNumber("unpriced", Unpriced);
                json.WriteNumber("input_tokens", InputTokens);
                json.WriteNumber("output_tokens", OutputTokens);
                json.WriteString("cost_usd", MoneyFormat.Format(CostUsd));
                json.WriteStartObject("units");
                CanonicalUsageParser.Write(json, Units);
                json.WriteEndObject();
                json.WriteStartObject("by_model");
                foreach ((string model, var m) in _byModel.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    json.WriteStartObject(model);
                    json.WriteNumber("calls", m.Calls);
                    json.WriteNumber("input_tokens", m.Input);
                    json.WriteNumber("output_tokens", m.Output);
                    json.WriteString("cost_usd", MoneyFormat.Format(m.Cost));
                    json.WriteNumber("unpriced", m.Unpriced);
                    json.WriteEndObject();
                }

                json.WriteEndObject();
                json.WriteStartArray("top_users");
                foreach ((int user, var u) in TopUsers())
                {
                    json.WriteStartObject();
                    json.WriteString("user", $"user-{user}");
                    json.WriteNumber("calls", u.Calls);
                    json.WriteString("cost_usd", MoneyFormat.Format(u.Cost));
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteString("attribution", Attribution);
                json.WriteEndObject();
            }

            return Encoding.UTF8.GetString(stream.ToArray());
        }

        private IEnumerable<KeyValuePair<int, (long Calls, decimal Cost)>> TopUsers() =>
            _byUser.OrderByDescending(p => p.Value.Cost).ThenBy(p => p.Key).Take(5);
    }
}
