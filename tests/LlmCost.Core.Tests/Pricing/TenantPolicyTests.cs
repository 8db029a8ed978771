using System.Text;
using System.Text.Json;
using LlmCost.Core.Audit;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Core.Tests.Pricing;

public sealed class TenantPolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    private static TenantPolicyVersion Version(int n, DateTimeOffset from, decimal? discount) => new()
    {
        TenantId = "acme", Version = n, EffectiveFrom = from, CreatedAt = T0, Actor = "test",
        Terms = discount is null ? null : new TenantPricing { DiscountPercent = discount },
    };

    [Fact]
    public void InForceAt_PicksTheLatestEffectiveVersion_TiesGoToTheLastWritten_AndADeletionEndsIt()
    {
        var history = new TenantPolicyHistory("acme",
        [
            Version(1, T0, 10),
            Version(2, T0.AddDays(10), 20),
            Version(3, T0.AddDays(5), 15),   // written later, effective earlier: in force only between day 5 and day 10
            Version(4, T0.AddDays(10), 25),  // same effective time as v2, written later: wins
            Version(5, T0.AddDays(20), null), // deleted from day 20
        ]);

        Assert.Null(history.InForceAt(T0.AddTicks(-1)));
        Assert.Equal(1, history.InForceAt(T0)!.Version);
        Assert.Equal(3, history.InForceAt(T0.AddDays(7))!.Version);
        Assert.Equal(4, history.InForceAt(T0.AddDays(10))!.Version);
        Assert.True(history.InForceAt(T0.AddDays(21))!.Deleted);
    }

    [Theory]
    [InlineData("{\"discount_percent\": 101}", "discount_percent")]
    [InlineData("{\"volume_tiers\": [{\"basis\": \"monthly_tokens\", \"threshold\": 1.5, \"discount_percent\": 5}]}", "volume_tiers[0].threshold")]
    [InlineData("{\"models\": [{\"model\": \"x\"}]}", "models[0]")]
    [InlineData("{\"models\": [{\"model\": \"x\", \"map_to_model\": \"gpt-4o\", \"prices\": {\"input_mtok\": 1}}]}", "models[0]")]
    [InlineData("{\"volume_tiers\": [{\"basis\": \"yearly\", \"threshold\": 1, \"discount_percent\": 5}]}", "volume_tiers[0].basis")]
    [InlineData("{\"effective_from\": \"tomorrow\"}", "effective_from")]
    public void Parse_RefusesWhatTheCliRefuses_NamingTheFieldRelativeToTheBody(string json, string field)
    {
        using JsonDocument body = JsonDocument.Parse(json);
        (TenantPricing? terms, _, List<FieldError> errors) = TenantPolicyService.Parse("acme", body.RootElement, PriceCatalog.BuiltIn);

        Assert.Null(terms);
        Assert.Contains(errors, e => e.Field == field);

        // The same section inside a policy file fails the CLI's --policy validation too.
        string section = JsonSerializer.Serialize(JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!
            .Where(p => p.Key != "effective_from").ToDictionary(p => p.Key, p => p.Value));
        if (field != "effective_from")
        {
            Assert.False(PricingPolicy.Load($"{{\"tenants\": {{\"acme\": {section}}}}}", PriceCatalog.BuiltIn).IsValid);
        }
    }

    [Fact]
    public void Parse_AcceptsAValidSection_WithItsEffectiveTime()
    {
        using JsonDocument body = JsonDocument.Parse("""
            {"discount_percent": 10, "regional_uplift": 1.1, "effective_from": "2026-07-01T02:00:00+02:00",
             "volume_tiers": [{"basis": "monthly_spend_usd", "threshold": 1000, "discount_percent": 15}],
             "models": [{"model": "acme-gpt4o-eu", "provider": "azure", "map_to_provider": "openai", "map_to_model": "gpt-4o"}]}
            """);
        (TenantPricing? terms, DateTimeOffset? from, List<FieldError> errors) = TenantPolicyService.Parse("acme", body.RootElement, PriceCatalog.BuiltIn);

        Assert.Empty(errors);
        Assert.Equal(new DateTimeOffset(2026, 7, 1, 0, 0, 0, TimeSpan.Zero), from);
        Assert.Equal(10m, terms!.DiscountPercent);
        Assert.Single(terms.VolumeTiers);
    }

    [Fact]
    public async Task TheCalculatorPricesEachTenantWithItsOwnVersionInForce()
    {
        var store = new MemoryPolicyStore();
        var time = new FakeTimeProvider(T0);
        var service = new TenantPolicyService(store, time);
        using JsonDocument body = JsonDocument.Parse("{\"discount_percent\": 50}");
        Assert.True((await service.PutAsync("acme", body.RootElement, "test")).Succeeded);
        var cache = new TenantPolicyCache(store, new FixedCatalogSource(CatalogVersion.BuiltIn), time, TimeSpan.FromSeconds(10));
        var calculator = new TenantAwarePriceCalculator(cache);
        var usage = new CanonicalUsage { InputTokens = 1000, OutputTokens = 500 };

        PriceQuote acme = calculator.Price(new PriceRequest("openai", "gpt-4o", T0, usage, "acme"));
        PriceQuote other = calculator.Price(new PriceRequest("openai", "gpt-4o", T0, usage, "globex"));
        PriceQuote before = calculator.Price(new PriceRequest("openai", "gpt-4o", T0.AddTicks(-1), usage, "acme"));

        Assert.Equal(0.00375m, acme.CostUsd);
        Assert.Equal(0.0075m, acme.ListCostUsd);
        Assert.Equal(1, acme.PolicyVersion);
        Assert.Equal(0.0075m, other.CostUsd);
        Assert.Null(other.PolicyVersion);
        Assert.Equal(0.0075m, before.CostUsd);
        Assert.Equal(CatalogVersion.BuiltIn.Version, acme.CatalogVersion);
    }

    [Fact]
    public async Task APublishedCatalogIsUsedOnlyWhenItsFileMatchesItsHashAndValidates()
    {
        var store = new MemoryCatalogStore();
        var source = new PublishedCatalogSource(store);
        Assert.Equal(CatalogVersion.BuiltIn.Version, source.Current.Version);

        byte[] good = Encoding.UTF8.GetBytes("""{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 0.000005, "output_cost_per_token": 0.00002}}""");
        var publisher = new CatalogPublisher(store, new FakeTimeProvider(T0));
        CatalogPublishResult published = await publisher.PublishAsync(good, "test");
        Assert.True(published.Succeeded);
        Assert.True(await source.RefreshAsync());
        Assert.Equal(published.Published!.Version, source.Current.Version);

        byte[] bad = Encoding.UTF8.GetBytes("""{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": -1}}""");
        CatalogPublishResult refused = await publisher.PublishAsync(bad, "test");
        Assert.False(refused.Succeeded);
        Assert.Contains(refused.Issues, i => i.Code == "negative-price");

        // Planted behind the publisher's back: a hash that does not match, then a file with an error.
        await store.PublishAsync(published.Published with { Version = "v-tampered", PublishedAt = T0.AddDays(1) }, bad);
        Assert.False(await source.RefreshAsync());
        Assert.Contains("hash", source.LastRefused!.Value.Reason, StringComparison.Ordinal);
        (_, string sha) = CatalogPublisher.Validate(bad, "x");
        await store.PublishAsync(new CatalogPointer("v-bad", sha, T0.AddDays(2), "litellm", 1, "x"), bad);
        Assert.False(await source.RefreshAsync());
        Assert.Contains("negative-price", source.LastRefused!.Value.Reason, StringComparison.Ordinal);
        Assert.Equal(published.Published.Version, source.Current.Version);
    }

    private sealed class MemoryPolicyStore : ITenantPolicyStore
    {
        private readonly List<TenantPolicyVersion> _versions = [];

        public Task<TenantPolicyHistory> ReadAsync(string tenantId, CancellationToken cancellationToken = default) =>
            Task.FromResult(new TenantPolicyHistory(tenantId, _versions.Where(v => v.TenantId == tenantId).ToList()));

        public Task<IReadOnlyList<TenantPolicyHistory>> ReadAllAsync(CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<TenantPolicyHistory>>(_versions.GroupBy(v => v.TenantId).Select(g => new TenantPolicyHistory(g.Key, g.ToList())).ToList());

        public Task<bool> AppendAsync(TenantPolicyVersion version, AuditEntry audit, CancellationToken cancellationToken = default)
        {
            if (_versions.Any(v => v.TenantId == version.TenantId && v.Version == version.Version))
            {
                return Task.FromResult(false);
            }

            _versions.Add(version);
            return Task.FromResult(true);
        }
    }

    private sealed class MemoryCatalogStore : ICatalogStore
    {
        private readonly Dictionary<string, byte[]> _files = [];
        private CatalogPointer? _pointer;

        public Task<CatalogPointer?> ReadPointerAsync(CancellationToken cancellationToken = default) => Task.FromResult(_pointer);

        public Task<byte[]?> ReadVersionAsync(string version, CancellationToken cancellationToken = default) =>
            Task.FromResult(_files.TryGetValue(version, out byte[]? file) ? file : null);

        public Task PublishAsync(CatalogPointer pointer, byte[] content, CancellationToken cancellationToken = default)
        {
            _files.TryAdd(pointer.Version, content);
            _pointer = pointer;
            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<CatalogPointer>> ListAsync(CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<CatalogPointer>>(_pointer is null ? [] : [_pointer]);
    }
}
