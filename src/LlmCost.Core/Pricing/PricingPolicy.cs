// Long on purpose: the policy's JSON shape, its precedence rules (the remarks below) and their validation must be
// read together; the records are the policy's parts, the converter its one price-value format.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmCost.Core.Pricing;

/// <summary>
/// Overrides and custom prices layered above the catalog, per tenant. Load it from JSON with
/// <see cref="Load(string, PriceCatalog?)"/> (snake_case keys, see docs/pricing.md).
/// </summary>
/// <remarks>
/// <para><b>Precedence</b> (first match wins at each step):</para>
/// <list type="number">
/// <item><b>Which price table.</b> The tenant's <see cref="TenantPricing.Models"/> rules, in order; then the
/// policy-wide <see cref="Models"/> rules, in order; then the catalog. A rule matches the model name exactly
/// (case-insensitive) or by prefix when it ends with '*', and the provider when it names one.</item>
/// <item><b>Explicit prices</b> (<see cref="CustomModelPrice.Prices"/>) are the tenant's NET prices: neither the
/// tenant's discount, nor a volume tier, nor the tenant's regional uplift applies to them; only the rule's
/// own <see cref="CustomModelPrice.DiscountPercent"/> / <see cref="CustomModelPrice.RegionalUplift"/> if set.</item>
/// <item><b>Mapped or catalog prices</b> (a rule's <see cref="CustomModelPrice.MapToModel"/>, or no rule) are
/// list prices at the event's timestamp (tiers, historic prices and off-peak windows as in the catalog), then
/// multiplied by the uplift (rule's, else tenant's <see cref="TenantPricing.RegionalUplift"/>, else 1), then by
/// (1 − discount/100) where the ONE discount that applies is: the rule's discount, else the largest discount of
/// the volume tiers reached by the request's month-to-date usage, else the tenant's negotiated discount, else 0.
/// Discounts never stack.</item>
/// </list>
/// </remarks>
public sealed class PricingPolicy
{
    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower), new PriceValueJsonConverter() },
        ReadCommentHandling = JsonCommentHandling.Skip,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The largest regional uplift (×100): far above any real one, and it keeps every cost within a decimal.</summary>
    public const decimal MaxUplift = 100m;

    private CompiledPolicy? _compiled;

    public static PricingPolicy Empty { get; } = new();

    /// <summary>Rules for every tenant (e.g. shared Azure deployment names), below each tenant's own rules.</summary>
    public IReadOnlyList<CustomModelPrice> Models { get; init; } = [];

    /// <summary>Per tenant id (case-sensitive).</summary>
    public IReadOnlyDictionary<string, TenantPricing> Tenants { get; init; } = new Dictionary<string, TenantPricing>();

    internal bool IsEmpty => Models.Count == 0 && Tenants.Count == 0;

    internal CompiledPolicy Compiled => _compiled ??= new CompiledPolicy(this);

    /// <summary>Parses and validates a policy. Invalid → <see cref="PolicyLoadResult.Policy"/> null and errors naming each bad field.</summary>
    /// <param name="catalog">When given, mapped models must resolve in it.</param>
    public static PolicyLoadResult Load(string json, PriceCatalog? catalog = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        PricingPolicy? policy;
        try
        {
            policy = JsonSerializer.Deserialize<PricingPolicy>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            string where = string.IsNullOrEmpty(e.Path) ? "" : $"{e.Path}: ";
            return new PolicyLoadResult(null, [$"{where}{e.Message}"]);
        }

        if (policy is null)
        {
            return new PolicyLoadResult(null, ["$: expected a pricing policy object"]);
        }

        IReadOnlyList<string> errors = policy.Validate(catalog);
        return errors.Count == 0 ? new PolicyLoadResult(policy, []) : new PolicyLoadResult(null, errors);
    }

    /// <summary>Reads and validates a policy file; a missing file is an error, not an exception.</summary>
    public static PolicyLoadResult LoadFile(string path, PriceCatalog? catalog = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return File.Exists(path)
            ? Load(File.ReadAllText(path), catalog)
            : new PolicyLoadResult(null, [$"{path}: file not found"]);
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Every problem, each naming its field (e.g. "tenants.acme.discount_percent: must be between 0 and 100").</summary>
    public IReadOnlyList<string> Validate(PriceCatalog? catalog = null)
    {
        var errors = new List<string>();
        ValidateRules(Models, "models", catalog, errors);
        foreach ((string tenantId, TenantPricing tenant) in Tenants)
        {
            string path = $"tenants.{tenantId}";
            if (tenant is null)
            {
                errors.Add($"{path}: must be an object");
                continue;
            }

            ValidatePercent(tenant.DiscountPercent, $"{path}.discount_percent", errors);
            ValidateUplift(tenant.RegionalUplift, $"{path}.regional_uplift", errors);
            ValidateRules(tenant.Models, $"{path}.models", catalog, errors);
            for (int i = 0; i < tenant.VolumeTiers.Count; i++)
            {
                VolumeTier tier = tenant.VolumeTiers[i];
                string tierPath = $"{path}.volume_tiers[{i}]";
                if (tier.Threshold < 0)
                {
                    errors.Add($"{tierPath}.threshold: must not be negative");
                }

                if (tier.Basis == VolumeBasis.MonthlyTokens && decimal.Truncate(tier.Threshold) != tier.Threshold)
                {
                    errors.Add($"{tierPath}.threshold: a token threshold must be a whole number");
                }

                ValidatePercent(tier.DiscountPercent, $"{tierPath}.discount_percent", errors);
            }
        }

        return errors;
    }

    private static void ValidateRules(IReadOnlyList<CustomModelPrice> rules, string path, PriceCatalog? catalog, List<string> errors)
    {
        for (int i = 0; i < rules.Count; i++)
        {
            CustomModelPrice rule = rules[i];
            string rulePath = $"{path}[{i}]";
            if (string.IsNullOrWhiteSpace(rule.Model) || rule.Model.Trim() == "*")
            {
                errors.Add($"{rulePath}.model: required (a model name, or a prefix ending with '*')");
            }

            bool mapped = !string.IsNullOrWhiteSpace(rule.MapToModel);
            bool explicitPrices = rule.Prices is { Count: > 0 };
            if (mapped == explicitPrices)
            {
                errors.Add($"{rulePath}: give exactly one of map_to_model or prices");
            }

            if (!mapped && !string.IsNullOrWhiteSpace(rule.MapToProvider))
            {
                errors.Add($"{rulePath}.map_to_provider: only meaningful with map_to_model");
            }

            ValidatePercent(rule.DiscountPercent, $"{rulePath}.discount_percent", errors);
            ValidateUplift(rule.RegionalUplift, $"{rulePath}.regional_uplift", errors);
            if (explicitPrices)
            {
                int before = errors.Count;
                foreach ((string key, PriceValue price) in rule.Prices!)
                {
                    if (!UsageUnits.TryGetByPriceKey(key, out _))
                    {
                        errors.Add($"{rulePath}.prices.{key}: unknown price key (expected e.g. input_mtok, output_mtok, cache_read_mtok, requests_kcount)");
                    }
                    else if (price is null || price.Base < 0 || price.Tiers.Any(t => t.Price < 0))
                    {
                        errors.Add($"{rulePath}.prices.{key}: a price must be a non-negative number");
                    }
                    else if (price.Base > CatalogValidator.MaxPlausiblePrice || price.Tiers.Any(t => t.Price > CatalogValidator.MaxPlausiblePrice))
                    {
                        errors.Add($"{rulePath}.prices.{key}: must be at most {CatalogValidator.MaxPlausiblePrice} (USD per unit of the key)");
                    }
                }

                if (errors.Count == before)
                {
                    var table = new PriceTable(rule.Prices!);
                    if (table.Inconsistency is not null)
                    {
                        errors.Add($"{rulePath}.prices: {table.Inconsistency}");
                    }
                }
            }

            if (mapped && catalog is not null)
            {
                PriceCatalog.Resolution resolution = catalog.Resolve(rule.MapToProvider, rule.MapToModel!);
                if (resolution.Model is null)
                {
                    errors.Add($"{rulePath}.map_to_model: {resolution.Failure}");
                }
            }
        }
    }

    private static void ValidatePercent(decimal? percent, string path, List<string> errors)
    {
        if (percent is < 0 or > 100)
        {
            errors.Add($"{path}: must be between 0 and 100");
        }
    }

    private static void ValidateUplift(decimal? uplift, string path, List<string> errors)
    {
        if (uplift is <= 0 or > MaxUplift)
        {
            errors.Add($"{path}: must be a positive multiplier (1.1 = +10%) of at most {MaxUplift}");
        }
    }
}

/// <summary>The outcome of <see cref="PricingPolicy.Load(string, PriceCatalog?)"/>.</summary>
public sealed record PolicyLoadResult(PricingPolicy? Policy, IReadOnlyList<string> Errors)
{
    public bool IsValid => Policy is not null;
}

/// <summary>One tenant's negotiated terms.</summary>
public sealed record TenantPricing
{
    /// <summary>Negotiated discount on list prices, in percent (15 = 15% off).</summary>
    public decimal? DiscountPercent { get; init; }

    /// <summary>Multiplier for the tenant's region (1.1 = +10%, e.g. an Azure data-zone deployment).</summary>
    public decimal? RegionalUplift { get; init; }

    /// <summary>Custom prices or model mappings, tried in order before the policy-wide rules.</summary>
    public IReadOnlyList<CustomModelPrice> Models { get; init; } = [];

    /// <summary>Discounts by month-to-date volume (see <see cref="PriceRequest.MonthToDate"/>).</summary>
    public IReadOnlyList<VolumeTier> VolumeTiers { get; init; } = [];
}

/// <summary>
/// A custom price rule: either maps a model name (e.g. an Azure deployment name) to a catalog model, or gives
/// explicit prices (genai-prices keys, USD per million tokens / per thousand requests).
/// </summary>
public sealed record CustomModelPrice
{
    /// <summary>The model name as callers send it; exact (case-insensitive), or a prefix when it ends with '*'.</summary>
    public string Model { get; init; } = "";

    /// <summary>Only for calls from this provider (case-insensitive); null = any provider.</summary>
    public string? Provider { get; init; }

    /// <summary>The catalog provider of <see cref="MapToModel"/>; null = infer it from the model name.</summary>
    public string? MapToProvider { get; init; }

    /// <summary>The catalog model to price this name as.</summary>
    public string? MapToModel { get; init; }

    /// <summary>Explicit net prices by genai-prices price key (e.g. input_mtok: 2.2, output_mtok: {base: 8, tiers: [...]}).</summary>
    public IReadOnlyDictionary<string, PriceValue>? Prices { get; init; }

    /// <summary>Replaces the tenant's and volume discounts for this model.</summary>
    public decimal? DiscountPercent { get; init; }

    /// <summary>Replaces the tenant's regional uplift for this model.</summary>
    public decimal? RegionalUplift { get; init; }

    internal bool Matches(string? provider, string model)
    {
        if (Provider is not null && !string.Equals(Provider, provider?.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        string pattern = Model.Trim();
        string name = model.Trim();
        return pattern.EndsWith('*')
            ? name.StartsWith(pattern[..^1], StringComparison.OrdinalIgnoreCase)
            : string.Equals(pattern, name, StringComparison.OrdinalIgnoreCase);
    }
}

public enum VolumeBasis
{
    /// <summary>Month-to-date spend in USD.</summary>
    MonthlySpendUsd,

    /// <summary>Month-to-date tokens (input + output).</summary>
    MonthlyTokens,
}

/// <summary>A volume discount reached when the month-to-date usage is at least <see cref="Threshold"/>.</summary>
public sealed record VolumeTier
{
    public VolumeBasis Basis { get; init; }

    public decimal Threshold { get; init; }

    public decimal DiscountPercent { get; init; }

    internal bool IsReached(MonthToDateUsage usage) => Basis switch
    {
        VolumeBasis.MonthlySpendUsd => usage.SpendUsd >= Threshold,
        VolumeBasis.MonthlyTokens => usage.Tokens >= Threshold,
        _ => false,
    };
}

/// <summary>Reads a price as a number or {"base": n, "tiers": [{"start": n, "price": n}]}, as genai-prices writes it.</summary>
internal sealed class PriceValueJsonConverter : JsonConverter<PriceValue>
{
    public override PriceValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            return new PriceValue(reader.GetDecimal());
        }

        using JsonDocument document = JsonDocument.ParseValue(ref reader);
        JsonElement element = document.RootElement;
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("base", out JsonElement @base) || @base.ValueKind != JsonValueKind.Number)
        {
            throw new JsonException("a price must be a number or {\"base\": number, \"tiers\": [{\"start\": integer, \"price\": number}]}");
        }

        var tiers = new List<PriceTier>();
        if (element.TryGetProperty("tiers", out JsonElement list))
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                throw new JsonException("tiers must be an array");
            }

            foreach (JsonElement tier in list.EnumerateArray())
            {
                if (tier.ValueKind != JsonValueKind.Object
                    || !tier.TryGetProperty("start", out JsonElement start) || !start.TryGetInt64(out long startValue) || startValue < 0
                    || !tier.TryGetProperty("price", out JsonElement price) || price.ValueKind != JsonValueKind.Number)
                {
                    throw new JsonException("a tier is {\"start\": non-negative integer, \"price\": number}");
                }

                tiers.Add(new PriceTier(startValue, price.GetDecimal()));
            }
        }

        return new PriceValue(@base.GetDecimal(), tiers);
    }

    public override void Write(Utf8JsonWriter writer, PriceValue value, JsonSerializerOptions options)
    {
        if (!value.IsTiered)
        {
            writer.WriteNumberValue(value.Base);
            return;
        }

        writer.WriteStartObject();
        writer.WriteNumber("base", value.Base);
        writer.WriteStartArray("tiers");
        foreach (PriceTier tier in value.Tiers)
        {
            writer.WriteStartObject();
            writer.WriteNumber("start", tier.Start);
            writer.WriteNumber("price", tier.Price);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
