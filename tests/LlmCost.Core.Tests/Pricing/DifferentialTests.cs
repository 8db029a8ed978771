using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;
using Xunit.Abstractions;

namespace LlmCost.Core.Tests.Pricing;

/// <summary>
/// THE differential test: thousands of seeded cases over every provider and model of the catalog, every unit of
/// the usage lattice (consistent random vectors built from own counts, all keys reported, some keys dropped to
/// exercise absent-class semantics), tier thresholds, historic start dates and time-of-day windows, priced by
/// <see cref="PricingEngine"/> and by the reference calculator of @pydantic/genai-prices@0.1.8 (node, one process
/// for the whole batch). They must agree to 1e-9 relative on at least 99.9 % of the cases; every disagreement is
/// printed with its class.
/// </summary>
/// <remarks>
/// One documented difference: when a used class has no price anywhere in its ancestry, genai-prices silently
/// charges it nothing, whereas the engine is unpriced (never a silent $0). There the oracle's total must equal
/// the engine's <see cref="PriceQuote.KnownCostUsd"/>.
/// </remarks>
public sealed class DifferentialTests(ITestOutputHelper output)
{
    private const int Seed = 20_260_601;
    private const double RelativeTolerance = 1e-9;

    private static readonly string[] s_usageKeys =
    [
        "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "input_audio_tokens",
        "cache_audio_read_tokens", "output_tokens", "output_reasoning_tokens", "output_audio_tokens", "web_searches",
    ];

    [Fact]
    public void EngineAgreesWithGenaiPricesReferenceCalculator()
    {
        OracleProcess.Locate();
        using JsonDocument data = JsonDocument.Parse(File.ReadAllBytes(
            Path.Combine(OracleProcess.RepositoryRoot(), "src", "LlmCost.Core", "Pricing", "Data", "genai-prices-0.1.8.json")));
        var generator = new CaseGenerator(data.RootElement, new Random(Seed));
        List<Case> cases = generator.Generate();
        Assert.True(generator.Fallbacks >= 200, "too few fallback-provider cases");
        Assert.True(cases.Count >= 5_000, $"only {cases.Count} cases generated");

        IReadOnlyList<string> oracle = OracleProcess.Run(cases.Select(c => c.ToJson()).ToList());

        var engine = PricingEngine.Default;
        var mismatches = new List<string>();
        var coverage = new Dictionary<string, int>
        {
            ["lattice"] = cases.Count(c => c.Lattice),
            ["lattice-absent-key"] = generator.AbsentKeyCases,
        };
        void Count(string key) => coverage[key] = coverage.GetValueOrDefault(key) + 1;
        for (int i = 0; i < cases.Count; i++)
        {
            Case c = cases[i];
            PriceQuote quote = engine.Price(new PriceRequest(c.Provider, c.Model, c.Timestamp, c.Usage));
            using JsonDocument expectedDocument = JsonDocument.Parse(oracle[i]);
            JsonElement expected = expectedDocument.RootElement;
            string? problem = Compare(quote, expected, Count);
            if (c.Provider is null && quote.ModelId is not null)
            {
                Count("inferred-provider");
            }

            if (quote.ModelId is not null && engine.Catalog.TryResolve(c.Provider, c.Model, c.Timestamp, out CatalogModelPrice resolved)
                && resolved.Table.Prices.Any(p => p.Value.IsTiered))
            {
                long firstTier = resolved.Table.Prices.Where(p => p.Value.IsTiered).Min(p => p.Value.Tiers[0].Start);
                Count(c.Usage.InputTokens > firstTier ? "tier-above" : "tier-at-or-below");
            }

            if (problem is not null)
            {
                mismatches.Add($"case {i}: {c.ToJson()}\n    oracle: {oracle[i]}\n    engine: priced={quote.Priced} cost={quote.CostUsd} known={quote.KnownCostUsd} " +
                    $"provider={quote.ProviderId} model={quote.ModelId} variant={quote.PriceVariant} reason={quote.Reason}\n    {problem}");
            }
        }

        int agreeing = cases.Count - mismatches.Count;
        output.WriteLine($"{cases.Count} cases, {agreeing} agree with genai-prices 0.1.8 ({100.0 * agreeing / cases.Count:0.000} %)");
        foreach (IGrouping<string, string> kind in mismatches.GroupBy(m => string.Join(' ', m.Split('\n').Last().Trim().Split(' ').Take(3))))
        {
            output.WriteLine($"  disagreement class '{kind.Key}': {kind.Count()}");
        }

        output.WriteLine($"coverage: {string.Join(", ", coverage.OrderBy(k => k.Key).Select(k => $"{k.Key}={k.Value}"))}");
        Assert.True(agreeing * 1000L >= cases.Count * 999L,
            $"{mismatches.Count} of {cases.Count} cases disagree with genai-prices 0.1.8 (first 20):\n{string.Join("\n", mismatches.Take(20))}");
        foreach (string mismatch in mismatches.Take(20))
        {
            output.WriteLine(mismatch);
        }

        // The batch must really exercise every semantic, not just agree on easy cases.
        Assert.True(coverage.GetValueOrDefault("priced") > 3_000, "too few priced cases");
        Assert.True(coverage.GetValueOrDefault("variant:start_date") > 50, "too few historic-price cases");
        Assert.True(coverage.GetValueOrDefault("variant:time_of_date") > 20, "too few time-of-day cases");
        Assert.True(coverage.GetValueOrDefault("tier-above") > 100, "too few cases above a tier threshold");
        Assert.True(coverage.GetValueOrDefault("tier-at-or-below") > 100, "too few cases at or below a tier threshold");
        Assert.True(coverage.GetValueOrDefault("class:cache_audio_read_mtok") > 10, "too few cached-audio cases");
        Assert.True(coverage.GetValueOrDefault("class:cache_write_1h_mtok") > 10, "too few 1h cache-write cases");
        Assert.True(coverage.GetValueOrDefault("class:requests_kcount") > 5, "too few per-request fee cases");
        Assert.True(coverage.GetValueOrDefault("class:web_searches_kcount") > 20, "too few web-search cases");
        Assert.True(coverage.GetValueOrDefault("class:output_reasoning_mtok") > 2, "too few reasoning-price cases");
        Assert.True(coverage.GetValueOrDefault("inferred-provider") > 100, "too few provider-inference cases");
        Assert.True(coverage.GetValueOrDefault("not-found") > 50, "too few unknown-model cases");
        Assert.True(coverage.GetValueOrDefault("unpriced-class") > 20, "too few used-but-unpriced-class cases");
        Assert.True(coverage.GetValueOrDefault("invalid-usage") > 20, "too few inconsistent-usage cases");
        Assert.Equal(43, cases.Select(c => c.ExpectedProvider).Distinct().Count());

        // Every unit the catalog prices is charged somewhere in the batch, at its own price.
        foreach (string priceKey in new[]
                 {
                     "input_image_mtok", "output_image_mtok", "cache_image_read_mtok", "input_video_mtok", "output_video_mtok",
                     "output_citation_mtok", "input_document_kpages", "input_annotated_document_kpages", "input_audio_hours",
                     "audio_hours", "input_text_messages_kcount", "storage_searches_kcount", "input_audio_mtok", "output_audio_mtok",
                 })
        {
            Assert.True(coverage.GetValueOrDefault("class:" + priceKey) > 3, $"too few cases charged at {priceKey}");
        }

        Assert.True(coverage.GetValueOrDefault("lattice") > 4_000, "too few full-lattice cases");
        Assert.True(coverage.GetValueOrDefault("lattice-absent-key") > 200, "too few cases with an absent class");
    }

    private static string? Compare(PriceQuote quote, JsonElement expected, Action<string> count)
    {
        if (expected.TryGetProperty("error", out JsonElement error))
        {
            count("invalid-usage");
            return quote.Priced || quote.ModelId is null
                ? $"the oracle rejects the case ({error.GetString()}) but the engine {(quote.Priced ? "priced it" : "did not resolve the model")}"
                : null;
        }

        JsonElement price = expected.GetProperty("price");
        if (price.ValueKind == JsonValueKind.Null)
        {
            count("not-found");
            return quote.Priced || quote.ModelId is not null ? "the oracle finds no model but the engine resolved one" : null;
        }

        string providerId = expected.GetProperty("provider_id").GetString()!;
        string modelId = expected.GetProperty("model_id").GetString()!;
        if (quote.ProviderId != providerId || quote.ModelId != modelId)
        {
            return $"resolved {quote.ProviderId}/{quote.ModelId}, oracle {providerId}/{modelId}";
        }

        if (!quote.Priced && quote.UnpricedClasses.Count == 0)
        {
            return $"the engine is unpriced ({quote.Reason}) where the oracle prices";
        }

        if (quote.PriceVariant is { } variant)
        {
            count("variant:" + variant.Split(' ')[0]);
        }

        foreach (PriceComponent component in quote.Breakdown)
        {
            count("class:" + component.Class);
        }

        double total = price.GetDouble();
        if (!quote.Priced)
        {
            count("unpriced-class");
            return Close(quote.KnownCostUsd, total) ? null : $"known cost {quote.KnownCostUsd} vs oracle total {total.ToString("R", CultureInfo.InvariantCulture)}";
        }

        count("priced");
        if (!Close(quote.CostUsd, total))
        {
            return $"total {quote.CostUsd} vs {total.ToString("R", CultureInfo.InvariantCulture)}";
        }

        if (!Close(quote.InputCostUsd, expected.GetProperty("input_price").GetDouble()) || !Close(quote.OutputCostUsd, expected.GetProperty("output_price").GetDouble()))
        {
            return $"input/output split {quote.InputCostUsd}/{quote.OutputCostUsd} vs {expected.GetProperty("input_price")}/{expected.GetProperty("output_price")}";
        }

        return null;
    }

    private static bool Close(decimal actual, double expected)
    {
        double a = (double)actual;
        double scale = Math.Max(Math.Abs(a), Math.Abs(expected));
        return Math.Abs(a - expected) <= (RelativeTolerance * scale) + 1e-15;
    }

    private sealed record Case(string? Provider, string Model, DateTimeOffset Timestamp, CanonicalUsage Usage, string ExpectedProvider)
    {
        /// <summary>Full-lattice cases send every REPORTED unit (zeros included), as the engine sees them.</summary>
        public bool Lattice { get; init; }

        public string ToJson()
        {
            var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                WriteCase(writer);
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }

        private void WriteCase(Utf8JsonWriter writer)
        {
            {
                writer.WriteStartObject();
                if (Provider is null)
                {
                    writer.WriteNull("provider");
                }
                else
                {
                    writer.WriteString("provider", Provider);
                }

                writer.WriteString("model", Model);
                writer.WriteString("timestamp", Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
                writer.WriteStartObject("usage");
                if (Lattice)
                {
                    foreach (UsageUnit unit in UsageUnits.All)
                    {
                        if (unit.UsageKey != "requests" && Usage.IsReported(unit))
                        {
                            writer.WriteNumber(unit.UsageKey, Usage.Get(unit));
                        }
                    }

                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    return;
                }

                long[] values =
                [
                    Usage.InputTokens, Usage.CacheReadTokens, Usage.CacheWriteTokens, Usage.CacheWrite1hTokens, Usage.InputAudioTokens,
                    Usage.CacheAudioReadTokens, Usage.OutputTokens, Usage.ReasoningTokens, Usage.OutputAudioTokens, Usage.WebSearches,
                ];
                for (int i = 0; i < values.Length; i++)
                {
                    writer.WriteNumber(s_usageKeys[i], values[i]);
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }
        }
    }

    /// <summary>Builds cases from the raw catalog JSON (not from the engine's compiled form), seeded.</summary>
    private sealed class CaseGenerator(JsonElement providers, Random random)
    {
        private static readonly DateTimeOffset s_from = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        private static readonly DateTimeOffset s_to = new(2027, 12, 31, 0, 0, 0, TimeSpan.Zero);
        private readonly List<long> _tierStarts = [];

        public int Fallbacks { get; private set; }

        public List<Case> Generate()
        {
            CollectTierStarts();
            var cases = new List<Case>();
            foreach (JsonElement provider in providers.EnumerateArray())
            {
                string providerId = provider.GetProperty("id").GetString()!;
                List<string> providerNames = provider.TryGetProperty("provider_match", out JsonElement pm) ? Names(pm) : [];
                foreach (JsonElement model in provider.GetProperty("models").EnumerateArray())
                {
                    List<string> names = Names(model.GetProperty("match"));
                    string id = model.GetProperty("id").GetString()!;
                    names.Add(id);
                    names.Add(id + "-20250514");
                    List<DateTimeOffset> interesting = InterestingTimes(model.GetProperty("prices"));
                    int perModel = interesting.Count > 0 || HasRarePrices(model.GetProperty("prices")) ? 16 : 5;
                    for (int k = 0; k < perModel; k++)
                    {
                        string name = Decorate(Pick(names));
                        string? providerName = PickProvider(providerId, providerNames, ref name);
                        DateTimeOffset at = interesting.Count > 0 && random.Next(3) > 0 ? Pick(interesting) : RandomTime();
                        cases.Add(new Case(providerName, name, at, RandomUsage(), providerId));
                    }

                    // Full-lattice vectors, more where the model prices rare units.
                    int lattice = HasRarePrices(model.GetProperty("prices")) ? 30 : 3;
                    for (int k = 0; k < lattice; k++)
                    {
                        DateTimeOffset at = interesting.Count > 0 && random.Next(2) == 0 ? Pick(interesting) : RandomTime();
                        cases.Add(new Case(providerId, Pick(names), at, LatticeUsage(model.GetProperty("prices")), providerId) { Lattice = true });
                    }
                }
            }

            // Providers that also serve other providers' models (azure → openai, anthropic, ...): their names.
            foreach (JsonElement provider in providers.EnumerateArray())
            {
                if (!provider.TryGetProperty("fallback_model_providers", out JsonElement fallbacks))
                {
                    continue;
                }

                string providerId = provider.GetProperty("id").GetString()!;
                foreach (JsonElement fallback in fallbacks.EnumerateArray())
                {
                    JsonElement other = providers.EnumerateArray().First(p => p.GetProperty("id").GetString() == fallback.GetString());
                    List<JsonElement> models = [.. other.GetProperty("models").EnumerateArray()];
                    for (int k = 0; k < 40; k++)
                    {
                        string name = Pick(Names(Pick(models).GetProperty("match")).DefaultIfEmpty("unmatched").ToList());
                        cases.Add(new Case(providerId, name, RandomTime(), RandomUsage(), providerId));
                        Fallbacks++;
                    }
                }
            }

            // Names that exist nowhere: both must say "not found".
            for (int i = 0; i < 100; i++)
            {
                cases.Add(new Case(random.Next(2) == 0 ? null : "openai", $"no-such-model-{i}", RandomTime(), RandomUsage(), "openai"));
            }

            return cases;
        }

        private string? PickProvider(string providerId, List<string> providerNames, ref string name)
        {
            int roll = random.Next(100);
            if (roll < 15)
            {
                return null; // infer from the model name (only providers with model_match can answer)
            }

            if (roll < 25 && providerNames.Count > 0)
            {
                return Pick(providerNames); // matched by provider_match
            }

            if (roll < 30)
            {
                name = providerId + "/" + name;
                return "litellm";
            }

            return roll < 35 ? " " + providerId.ToUpperInvariant() + " " : providerId;
        }

        private string Decorate(string name) => random.Next(20) switch
        {
            0 => name.ToUpperInvariant(),
            1 => "  " + name + " ",
            _ => name,
        };

        private List<string> Names(JsonElement match)
        {
            JsonProperty rule = match.EnumerateObject().First();
            string Value() => rule.Value.GetString()!;
            return rule.Name switch
            {
                "equals" => [Value()],
                "starts_with" => [Value(), Value() + "-preview", Value() + "-20250101"],
                "ends_with" => [Value(), "org/" + Value()],
                "contains" => [Value(), "x-" + Value() + "-y"],
                "regex" => [],
                "or" => rule.Value.EnumerateArray().SelectMany(Names).Take(12).ToList(),
                "and" => And(rule.Value),
                _ => throw new InvalidOperationException(rule.Name),
            };
        }

        private List<string> And(JsonElement rules)
        {
            List<List<string>> parts = rules.EnumerateArray().Select(Names).Where(p => p.Count > 0).ToList();
            var names = new List<string>();
            if (parts.Count > 0)
            {
                names.Add(string.Join("-", parts.Select(p => p[0])));
                names.AddRange(parts[0]);
            }

            return names;
        }

        /// <summary>Tiers or classes few models price: worth more cases.</summary>
        private static bool HasRarePrices(JsonElement prices)
        {
            IEnumerable<JsonElement> tables = prices.ValueKind == JsonValueKind.Array
                ? prices.EnumerateArray().Select(e => e.GetProperty("prices"))
                : [prices];
            return tables.SelectMany(t => t.EnumerateObject()).Any(p =>
                p.Value.ValueKind == JsonValueKind.Object
                || p.Name is not ("input_mtok" or "output_mtok" or "cache_read_mtok" or "cache_write_mtok" or "web_searches_kcount" or "storage_searches_kcount"));
        }

        private List<DateTimeOffset> InterestingTimes(JsonElement prices)
        {
            var times = new List<DateTimeOffset>();
            if (prices.ValueKind != JsonValueKind.Array)
            {
                return times;
            }

            foreach (JsonElement entry in prices.EnumerateArray())
            {
                if (!entry.TryGetProperty("constraint", out JsonElement constraint))
                {
                    continue;
                }

                if (constraint.TryGetProperty("start_date", out JsonElement date))
                {
                    var start = DateTimeOffset.Parse(date.GetString()! + "T00:00:00Z", CultureInfo.InvariantCulture);
                    times.AddRange([start, start.AddMilliseconds(-1), start.AddDays(1), start.AddDays(-1)]);
                }
                else
                {
                    DateTime day = RandomTime().UtcDateTime.Date;
                    foreach (string key in new[] { "start_time", "end_time" })
                    {
                        TimeSpan t = TimeSpan.ParseExact(constraint.GetProperty(key).GetString()!.TrimEnd('Z'), @"hh\:mm\:ss", CultureInfo.InvariantCulture);
                        DateTimeOffset edge = new DateTimeOffset(day, TimeSpan.Zero) + t;
                        times.AddRange([edge, edge.AddMilliseconds(-1), edge.AddMinutes(30)]);
                    }
                }
            }

            return times;
        }

        private DateTimeOffset RandomTime()
        {
            long span = (s_to - s_from).Ticks / TimeSpan.TicksPerMillisecond;
            return s_from.AddMilliseconds(random.NextInt64(span));
        }

        /// <summary>
        /// A consistent usage over the whole lattice: random own counts on a few units (biased to the units the model
        /// prices and their neighbours), every unit's count being its own plus its descendants'. All units are
        /// reported (0 included), except in one case of eight, where one positive or zero unit is left out.
        /// </summary>
        private CanonicalUsage LatticeUsage(JsonElement prices)
        {
            IEnumerable<JsonElement> tables = prices.ValueKind == JsonValueKind.Array
                ? prices.EnumerateArray().Select(e => e.GetProperty("prices"))
                : [prices];
            List<UsageUnit> priced = tables.SelectMany(t => t.EnumerateObject())
                .Select(p => UsageUnits.TryGetByPriceKey(p.Name, out UsageUnit u) ? u : null)
                .OfType<UsageUnit>().Where(u => u.UsageKey != "requests").Distinct().ToList();
            List<UsageUnit> all = [.. UsageUnits.All.Where(u => u.UsageKey != "requests")];
            var own = new long[UsageUnits.Count];
            int seeds = random.Next(1, 7);
            for (int i = 0; i < seeds; i++)
            {
                UsageUnit unit = priced.Count > 0 && random.Next(3) > 0 ? Pick(priced) : Pick(all);
                if (random.Next(3) == 0)
                {
                    // A more specific unit below it (a class the model may not price: falls back to the ancestor).
                    List<UsageUnit> below = [.. all.Where(u => (unit.DescendantMask & (1UL << u.Index)) != 0)];
                    if (below.Count > 0)
                    {
                        unit = Pick(below);
                    }
                }

                own[unit.Index] += unit.Family switch
                {
                    "tokens" => random.Next(4) switch
                    {
                        0 => random.Next(1, 1_000),
                        1 => Pick(_tierStarts) / Math.Max(1, seeds) + random.Next(-1, 2),
                        _ => random.Next(1_000, 400_000),
                    },
                    "durations" => random.Next(1, 7_200),
                    _ => random.Next(1, 40),
                };
            }

            var builder = new CanonicalUsage.Builder();
            foreach (UsageUnit unit in all)
            {
                long value = own[unit.Index];
                for (ulong rest = unit.DescendantMask; rest != 0; rest &= rest - 1)
                {
                    value += own[System.Numerics.BitOperations.TrailingZeroCount(rest)];
                }

                builder.Set(unit, Math.Max(0, value));
            }

            CanonicalUsage usage = builder.Build();
            if (random.Next(8) == 0)
            {
                // Leave one class out: absent is not 0 where it contains a given class or is the overlap of two.
                UsageUnit dropped = Pick(all);
                var partial = new CanonicalUsage.Builder();
                foreach (UsageUnit unit in all.Where(u => u != dropped))
                {
                    partial.Set(unit, usage.Get(unit));
                }

                usage = partial.Build() with { };
                _absent++;
            }

            return usage;
        }

        private int _absent;

        public int AbsentKeyCases => _absent;

        private CanonicalUsage RandomUsage()
        {
            long input = random.Next(10) switch
            {
                0 => 0,
                1 or 2 => random.Next(1, 1_000),
                3 or 4 => random.Next(1_000, 100_000),
                5 or 6 => Pick(_tierStarts) + random.Next(-1, 2),
                _ => random.Next(100_000, 2_000_000),
            };

            // Split the input into disjoint parts, then build the nested classes from them.
            long rest = input;
            long Take()
            {
                if (rest == 0 || random.Next(3) == 0)
                {
                    return 0;
                }

                long part = random.NextInt64(rest + 1);
                rest -= part;
                return part;
            }

            long cachedAudio = Take();
            long cachedText = Take();
            long uncachedAudio = Take();
            long write1h = Take();
            long write5m = Take();
            long cacheRead = cachedText + cachedAudio;
            long inputAudio = cachedAudio + uncachedAudio;
            long cacheWrite = write1h + write5m;
            if (random.Next(12) == 0 && input > 10)
            {
                // Inconsistent but pairwise plausible: each class fits in the input, together they exceed it.
                switch (random.Next(2))
                {
                    case 0:
                        cacheRead = input - 1;
                        cacheWrite = input - 1;
                        write1h = 0;
                        break;
                    default:
                        inputAudio = input - 1;
                        cacheRead = input - 1;
                        cachedAudio = 0;
                        break;
                }
            }

            long reasoning = random.Next(3) == 0 ? random.Next(0, 50_000) : 0;
            long audioOut = random.Next(5) == 0 ? random.Next(0, 20_000) : 0;
            long output = reasoning + audioOut + (random.Next(6) == 0 ? 0 : random.Next(0, 300_000));
            return new CanonicalUsage
            {
                InputTokens = input,
                CacheReadTokens = cacheRead,
                CacheWriteTokens = cacheWrite,
                CacheWrite1hTokens = write1h,
                InputAudioTokens = inputAudio,
                CacheAudioReadTokens = cachedAudio,
                OutputTokens = output,
                ReasoningTokens = reasoning,
                OutputAudioTokens = audioOut,
                WebSearches = random.Next(8) == 0 ? random.Next(1, 6) : 0,
            };
        }

        private void CollectTierStarts()
        {
            var starts = new SortedSet<long>();
            foreach (JsonElement provider in providers.EnumerateArray())
            {
                foreach (JsonElement model in provider.GetProperty("models").EnumerateArray())
                {
                    JsonElement prices = model.GetProperty("prices");
                    IEnumerable<JsonElement> tables = prices.ValueKind == JsonValueKind.Array
                        ? prices.EnumerateArray().Select(e => e.GetProperty("prices"))
                        : [prices];
                    foreach (JsonProperty price in tables.SelectMany(t => t.EnumerateObject()))
                    {
                        if (price.Value.ValueKind == JsonValueKind.Object)
                        {
                            foreach (JsonElement tier in price.Value.GetProperty("tiers").EnumerateArray())
                            {
                                starts.Add(tier.GetProperty("start").GetInt64());
                            }
                        }
                    }
                }
            }

            _tierStarts.AddRange(starts);
        }

        private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];
    }
}
