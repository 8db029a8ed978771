using System.Text.Json;
using LlmCost.Core.Advice;
using LlmCost.Core.Budgets;
using LlmCost.Core.Estimation;
using Microsoft.Extensions.Time.Testing;

namespace LlmCost.Core.Tests.Advice;

public sealed class ModelSelectorTests
{
    private static ModelSelectionResult Select(ModelSelector selector, ModelSelectionRequest request)
    {
        Validated<ModelSelectionResult> result = selector.Select(request);
        Assert.True(result.IsValid, string.Join("; ", result.Errors.Select(e => $"{e.Key}: {string.Join(",", e.Value)}")));
        return result.Value!;
    }

    /// <summary>
    /// Hand calculation (genai-prices 0.1.8 list prices, USD per million tokens), 10,000 input and 1,000 output tokens:
    /// <list type="bullet">
    /// <item>claude-haiku-4-5 ($1 in, $5 out): 10,000 × 1 / 1e6 + 1,000 × 5 / 1e6 = 0.01 + 0.005 = 0.015</item>
    /// <item>claude-sonnet-4-5 ($3, $15; tier above 200k input not reached): 0.03 + 0.015 = 0.045</item>
    /// <item>claude-opus-4-1 ($15, $75): 0.15 + 0.075 = 0.225 > the 0.05 budget → over_budget</item>
    /// <item>claude-3-5-haiku-latest: retired 2026-02-19 (Anthropic's deprecation page) → retired</item>
    /// </list>
    /// </summary>
    [Fact]
    public void Ranks_capable_current_models_by_cost_and_explains_every_exclusion()
    {
        ModelSelectionResult result = Select(AdviceFixture.Selector(), new ModelSelectionRequest
        {
            Providers = ["anthropic"],
            AllowedModels = ["anthropic:claude-haiku-4-5", "anthropic:claude-sonnet-4-5", "anthropic:claude-opus-4-1", "anthropic:claude-3-5-haiku-latest"],
            InputModalities = ["text", "image"],
            Tools = true,
            ExpectedInputTokens = 10_000,
            ExpectedOutputTokens = 1_000,
            MaxCostPerCallUsd = 0.05m,
        });

        Assert.Equal(["claude-haiku-4-5", "claude-sonnet-4-5"], result.Candidates.Select(c => c.Model));
        Assert.Equal(0.015m, result.Candidates[0].EstimatedCostUsd);
        Assert.Equal(0.045m, result.Candidates[1].EstimatedCostUsd);
        Assert.Equal([1, 2], result.Candidates.Select(c => c.Rank));
        Assert.Contains(result.Candidates[0].Reasons, r => r.Contains("tool calling", StringComparison.Ordinal) && r.Contains("context 200000 >= 11000", StringComparison.Ordinal));

        SelectionExclusion opus = Assert.Single(result.Excluded, e => e.Model == "claude-opus-4-1");
        Assert.Equal(ExclusionCodes.OverBudget, Assert.Single(opus.Reasons).Code);
        Assert.Contains("0.225", opus.Reasons[0].Detail, StringComparison.Ordinal);
        SelectionExclusion old = Assert.Single(result.Excluded, e => e.Model == "claude-3-5-haiku-latest");
        Assert.Contains(old.Reasons, r => r.Code == ExclusionCodes.Retired && r.Detail.Contains("2026-02-19", StringComparison.Ordinal));
        // Every other anthropic model is excluded as not allowed: each examined model is accounted for.
        Assert.Equal(result.Considered, result.Candidates.Count + result.MoreCandidates + result.Excluded.Count);
        Assert.All(result.Excluded.Where(e => e.Model is not ("claude-opus-4-1" or "claude-3-5-haiku-latest")),
            e => Assert.Contains(e.Reasons, r => r.Code == ExclusionCodes.NotAllowed));
    }

    /// <summary>
    /// Google, audio and image input, reasoning, 300,000 input + 2,000 output tokens:
    /// <list type="bullet">
    /// <item>gemini-3.1-flash-lite ($0.25, $1.5): 300,000 × 0.25 / 1e6 + 2,000 × 1.5 / 1e6 = 0.075 + 0.003 = 0.078</item>
    /// <item>gemini-3.5-flash-lite ($0.3, $2.5): 0.09 + 0.005 = 0.095</item>
    /// <item>gemini-3.8-flash: overlay lists text input only → input_modality</item>
    /// <item>gemini-2.5-pro: deprecated, shutdown 2026-12-01 → deprecated; gemini-flash-1.5-8b: retired</item>
    /// </list>
    /// </summary>
    [Fact]
    public void Multimodal_reasoning_task_keeps_only_models_that_take_those_inputs()
    {
        ModelSelectionResult result = Select(AdviceFixture.Selector(), new ModelSelectionRequest
        {
            Providers = ["google"],
            InputModalities = ["text", "image", "audio"],
            Reasoning = true,
            ExpectedInputTokens = 300_000,
            ExpectedOutputTokens = 2_000,
        });

        Assert.Equal("gemini-3.1-flash-lite", result.Candidates[0].Model);
        Assert.Equal(0.078m, result.Candidates[0].EstimatedCostUsd);
        Assert.Equal("gemini-3.5-flash-lite", result.Candidates[1].Model);
        Assert.Equal(0.095m, result.Candidates[1].EstimatedCostUsd);
        Assert.Contains(result.Excluded.Single(e => e.Model == "gemini-3.8-flash").Reasons, r => r.Code == ExclusionCodes.InputModality);
        Assert.Contains(result.Excluded.Single(e => e.Model == "gemini-2.5-pro").Reasons, r => r.Code == ExclusionCodes.Deprecated);
        Assert.Contains(result.Excluded.Single(e => e.Model == "gemini-flash-1.5-8b").Reasons, r => r.Code == ExclusionCodes.Retired);
        Assert.DoesNotContain(result.Candidates, c => c.Model.Contains("1.5", StringComparison.Ordinal));
    }

    /// <summary>
    /// Task type "contracts" needs quality >= 80 (tenant scores: sonnet-4-5 85, haiku-4-5 70; opus-4-5 unscored). At 20,000 in,
    /// 2,000 out with the tenant's 20% discount: sonnet-4-5 = (0.06 + 0.03) × 0.8 = 0.072; haiku is below the floor; opus-4-5 has no score.
    /// </summary>
    [Fact]
    public void Tenant_quality_floor_and_discount_apply()
    {
        ModelSelector selector = AdviceFixture.Selector(
            """{"tenants": {"acme": {"providers": ["anthropic"], "quality": {"anthropic:claude-sonnet-4-5": 85, "anthropic:claude-haiku-4-5": 70}, "task_types": {"contracts": {"min_quality": 80}}}}}""",
            """{"tenants": {"acme": {"discount_percent": 20}}}""");
        ModelSelectionResult result = Select(selector, new ModelSelectionRequest
        {
            TenantId = "acme",
            TaskType = "contracts",
            ExpectedInputTokens = 20_000,
            ExpectedOutputTokens = 2_000,
        });

        SelectionCandidate only = Assert.Single(result.Candidates);
        Assert.Equal("claude-sonnet-4-5", only.Model);
        Assert.Equal(0.072m, only.EstimatedCostUsd);
        Assert.Equal(85, only.Quality);
        Assert.Contains(result.Excluded.Single(e => e.Model == "claude-haiku-4-5").Reasons, r => r.Code == ExclusionCodes.BelowQualityFloor);
        Assert.Contains(result.Excluded.Single(e => e.Model == "claude-opus-4-5").Reasons, r => r.Code == ExclusionCodes.NoQualityScore);
    }

    [Fact]
    public void A_prompt_is_counted_with_each_family_tokenizer()
    {
        const string prompt = "Summarise the attached quarterly report in three bullet points for the finance team.";
        ModelSelectionResult result = Select(AdviceFixture.Selector(), new ModelSelectionRequest
        {
            AllowedModels = ["openai:gpt-6-luna", "anthropic:claude-haiku-4-5"],
            Providers = ["openai", "anthropic"],
            Prompt = prompt,
            ExpectedOutputTokens = 100,
        });

        SelectionCandidate luna = result.Candidates.Single(c => c.Model == "gpt-6-luna");
        SelectionCandidate haiku = result.Candidates.Single(c => c.Model == "claude-haiku-4-5");
        Assert.Equal(PromptTokenCounter.Default.Count("openai", "gpt-6-luna", [new ChatMessage("user", prompt)]).Tokens, luna.InputTokens);
        Assert.Equal("counted_exact", luna.InputTokensSource);
        Assert.Equal(PromptTokenCounter.Default.Count("anthropic", "claude-haiku-4-5", [new ChatMessage("user", prompt)]).Tokens, haiku.InputTokens);
        Assert.Equal("counted_estimate", haiku.InputTokensSource);
        // gpt-6-luna: $0.1 in, $0.5 out per million.
        Assert.Equal((luna.InputTokens * 0.1m + 100 * 0.5m) / 1_000_000m, luna.EstimatedCostUsd);
    }

    [Fact]
    public void Every_candidate_gets_the_count_of_its_own_tokenizer_even_when_one_family_has_two_encodings()
    {
        // OpenAI's older models (gpt-4, gpt-3.5) use cl100k_base, the newer o200k_base: one count per family would
        // give one of them the other's number. The text is shared (a memo) but the count is per encoding.
        string prompt = string.Concat(Enumerable.Repeat("Compare the café's Q3 figures: 1,234.56 € vs 987.65 € — why? ", 40));
        ModelSelectionResult result = Select(AdviceFixture.Selector(), new ModelSelectionRequest
        {
            Providers = ["openai", "anthropic", "google"],
            Prompt = prompt,
            ExpectedOutputTokens = 100,
            MaxCandidates = 100,
        });

        Assert.Contains(result.Candidates, c => TokenizerCache.EncodingForModel(c.CallableModel ?? c.Model) == TokenizerCache.Cl100kBase);
        Assert.Contains(result.Candidates, c => TokenizerCache.EncodingForModel(c.CallableModel ?? c.Model) == TokenizerCache.O200kBase);
        Assert.All(result.Candidates, c => Assert.Equal(
            PromptTokenCounter.Default.Count(c.Provider, c.CallableModel ?? c.Model, [new ChatMessage("user", prompt)]).Tokens, c.InputTokens));
    }

    [Fact]
    public void A_call_that_does_not_fit_the_context_or_output_limit_is_excluded_with_the_numbers()
    {
        ModelSelectionResult result = Select(AdviceFixture.Selector(), new ModelSelectionRequest
        {
            AllowedModels = ["anthropic:claude-haiku-4-5"],
            Providers = ["anthropic"],
            ExpectedInputTokens = 190_000,
            ExpectedOutputTokens = 70_000,
        });

        Assert.Empty(result.Candidates);
        SelectionExclusion haiku = result.Excluded.Single(e => e.Model == "claude-haiku-4-5");
        Assert.Contains(haiku.Reasons, r => r.Code == ExclusionCodes.ContextTooSmall && r.Detail == "context window 200000 < 260000 tokens needed");
        Assert.Contains(haiku.Reasons, r => r.Code == ExclusionCodes.OutputLimit && r.Detail == "output limit 64000 < 70000 tokens expected");
    }

    [Fact]
    public void Invalid_profiles_are_errors_naming_the_field()
    {
        Validated<ModelSelectionResult> result = AdviceFixture.Selector().Select(new ModelSelectionRequest
        {
            InputModalities = ["text", "smell"],
            ExpectedInputTokens = 10,
            Prompt = "both",
            MaxCostPerCallUsd = -1m,
            AllowedModels = ["gpt-4o"],
            Providers = ["nope"],
            TaskType = "unknown",
            MaxCandidates = 0,
        });

        Assert.False(result.IsValid);
        Assert.Equal(
            ["allowed_models[0]", "expected_input_tokens", "expected_output_tokens", "input_modalities[1]", "max_candidates", "max_cost_per_call_usd", "providers[0]", "task_type"],
            result.Errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Wire_shape_is_snake_case_with_money_as_decimal_strings()
    {
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        ModelSelectionRequest request = JsonSerializer.Deserialize<ModelSelectionRequest>(
            """{"providers": ["anthropic"], "allowed_models": ["anthropic:claude-haiku-4-5"], "expected_input_tokens": 10000, "expected_output_tokens": 1000, "max_cost_per_call_usd": "0.05"}""",
            options)!;
        Assert.Equal(0.05m, request.MaxCostPerCallUsd);
        string json = JsonSerializer.Serialize(Select(AdviceFixture.Selector(), request), options);
        Assert.Contains("\"estimated_cost_usd\":\"0.015\"", json, StringComparison.Ordinal);
        Assert.Contains("\"callable_model\":\"claude-haiku-4-5\"", json, StringComparison.Ordinal);
        Assert.Contains("\"input_tokens_source\":\"given\"", json, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("openai", "gpt-4o")]
    [InlineData("google", "gemini-2.5-pro")]
    [InlineData("anthropic", "claude-opus-4-1")]
    public void Downgrade_candidates_are_current_and_as_capable_as_the_requested_model(string provider, string model)
    {
        ModelSelector selector = AdviceFixture.Selector();
        var downgrades = new CapabilityDowngradeCatalog(selector, new FakeTimeProvider(AdviceFixture.Now), new Dictionary<string, IReadOnlyList<string>>());
        IReadOnlyList<(string Provider, string Model)> candidates = downgrades.Candidates(provider, model);
        Assert.NotEmpty(candidates);

        var requested = selector.Capabilities.Find(provider, model)!;
        foreach ((string p, string m) in candidates)
        {
            var resolved = selector.Engine.Catalog.Resolve(p, m).Model!;
            var facts = selector.Capabilities.Find(resolved.ModelProvider, resolved.Model)!;
            Assert.Equal(Capabilities.ModelStatus.Active, facts.StatusAt(AdviceFixture.Now));
            Assert.Equal(requested.Input, requested.Input & facts.Input);
            Assert.True(!requested.ToolCalling || facts.ToolCalling);
            Assert.True(!requested.Reasoning || facts.Reasoning);
            Assert.True(facts.ContextTokens >= requested.ContextTokens);
        }

        Assert.DoesNotContain(candidates, c => c.Model is "curie" or "davinci" or "gemini-flash-1.5-8b" or "gemini-1.5-flash");
    }

    [Fact]
    public void Opus_4_1_downgrades_to_haiku_4_5_among_others_and_a_too_large_call_narrows_the_list()
    {
        var downgrades = new CapabilityDowngradeCatalog(AdviceFixture.Selector(), new FakeTimeProvider(AdviceFixture.Now), new Dictionary<string, IReadOnlyList<string>>
        {
            ["openai"] = ["gpt-6-luna"],
        });
        IReadOnlyList<(string Provider, string Model)> all = downgrades.Candidates("anthropic", "claude-opus-4-1-20250805");
        Assert.Contains(("anthropic", "claude-haiku-4-5"), all);
        Assert.Contains(("openai", "gpt-6-luna"), all);
        Assert.DoesNotContain(all, c => c.Model.StartsWith("claude-opus-4-1", StringComparison.Ordinal));

        // 150,000 in + 60,000 max out: haiku's 200k window no longer holds it; the 1M-window models still do.
        IReadOnlyList<(string Provider, string Model)> large = downgrades.Candidates("anthropic", "claude-opus-4-1", 150_000, 60_000, null);
        Assert.DoesNotContain(("anthropic", "claude-haiku-4-5"), large);
        Assert.Contains(("anthropic", "claude-sonnet-5"), large);

        // A model without capability facts gets nothing rather than a guess.
        Assert.Empty(downgrades.Candidates("openai", "gpt-5.4"));
    }
}
