using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmCost.Core.Advice;
using LlmCost.Core.Alerts;
using LlmCost.Core.Budgets;
using LlmCost.Core.Pricing;
using LlmCost.Core.Usage;
using LlmCost.Functions.Hosting;
using LlmCost.Functions.Tests.Contract;
using LlmCost.Functions.Tests.Infrastructure;
using LlmCost.Functions.Tests.Operations;
using LlmCost.Storage;
using LlmCost.Storage.Operations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MimeKit;
using Xunit.Abstractions;

namespace LlmCost.Functions.Tests.Advice;

/// <summary>
/// The advice module through the real app on Azurite: usage posted to /api/usage, the timer, the endpoints, the
/// digest to a real webhook receiver and a real SMTP server, and adaptive budgets suggesting through the selector.
/// </summary>
public sealed class AdviceApiTests(ITestOutputHelper output)
{
    /// <summary>A Monday: the timer's period is the 7 days before, and it sends the weekly digest.</summary>
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 2, 0, 0, TimeSpan.Zero);

    private static readonly DateTimeOffset TraceDay = new(2026, 11, 16, 0, 0, 0, TimeSpan.Zero);

    private static readonly (string Provider, string Model)[] MixConversation =
    [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-opus-4-1-20250805"),
        ("google", "gemini-2.5-pro"),
    ];

    /// <summary>The tenant's own quality scores (a suggestion must score at least the recorded model) and its batch app.</summary>
    private const string Settings = """
        {"tenants": {"acme": {
          "non_interactive": {"apps": ["code-batch"]},
          "quality": {
            "openai:gpt-4o": 70, "openai:gpt-6-luna": 72, "openai:gpt-6-sol": 85, "openai:gpt-4.1-nano": 45, "openai:gpt-4o-mini": 55,
            "anthropic:claude-opus-4-1": 80, "anthropic:claude-haiku-4-5": 80, "anthropic:claude-sonnet-4-5": 85, "anthropic:claude-opus-4-5": 92,
            "google:gemini-2.5-pro": 75, "google:gemini-3.1-flash-lite": 78, "google:gemini-3.5-flash-lite": 80
          }}}}
        """;

    private sealed record Sent(string EventId, string Team, string App, string Provider, string Model, DateTimeOffset At, CanonicalUsage Usage, decimal Cost);

    /// <summary>
    /// The Azure LLM inference trace 2023 (CC-BY 4.0, Patel et al., "Splitwise", ISCA 2024; data/traces): the first
    /// <paramref name="conversations"/> conversation rows call gpt-4o, claude-opus-4-1 and gemini-2.5-pro in turn; the
    /// first <paramref name="code"/> code rows call gpt-4o-mini as app "code-batch". Moved to <see cref="TraceDay"/>
    /// (same time of day); ContextTokens = input, GeneratedTokens = output; users user-0..39, teams red/blue.
    /// </summary>
    private static async Task<List<Sent>> ReplayTraceAsync(LlmCostTestHost host, int conversations, int code)
    {
        string folder = Path.Combine(TestEnvironment.RepoRoot, "data", "traces", "azure-llm-inference-2023");
        var rows = new List<(string Id, int User, string App, string Provider, string Model, DateTimeOffset At, long Input, long Output)>();
        foreach ((string file, bool conversation, int take) in new[] { ("AzureLLMInferenceTrace_code.csv", false, code), ("AzureLLMInferenceTrace_conv.csv", true, conversations) })
        {
            int row = 0;
            foreach (string line in File.ReadLines(Path.Combine(folder, file)).Skip(1).Take(take))
            {
                string[] parts = line.Split(',');
                DateTimeOffset original = DateTimeOffset.Parse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
                DateTimeOffset at = original.AddDays((TraceDay.Date - original.UtcDateTime.Date).TotalDays);
                (string provider, string model) = conversation ? MixConversation[row % MixConversation.Length] : ("openai", "gpt-4o-mini");
                rows.Add(($"{(conversation ? "conv" : "code")}-{row}", row % 40, conversation ? "chat" : "code-batch", provider, model, at,
                    long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture)));
                row++;
            }
        }

        var sent = new List<Sent>();
        foreach (var chunk in rows.Chunk(250))
        {
            var batch = chunk.Select(r => new
            {
                event_id = r.Id, tenant_id = "acme", user_id = $"user-{r.User}", team_id = r.User % 2 == 0 ? "red" : "blue", app = r.App,
                provider = r.Provider, model = r.Model, timestamp = r.At.ToString("O", CultureInfo.InvariantCulture),
                usage = new { input_tokens = r.Input, output_tokens = r.Output },
            }).ToList();
            var (status, body) = await host.Client.PostAsync("api/usage", new { events = batch });
            Assert.True(status == 200, body.ToString());
            var results = body.GetProperty("results").EnumerateArray().ToList();
            for (int i = 0; i < chunk.Length; i++)
            {
                var r = chunk[i];
                Assert.True(results[i].GetProperty("priced").GetBoolean(), results[i].ToString());
                sent.Add(new Sent(r.Id, r.User % 2 == 0 ? "red" : "blue", r.App, r.Provider, r.Model, r.At,
                    new CanonicalUsage { InputTokens = r.Input, OutputTokens = r.Output }, results[i].Money("cost_usd")));
            }
        }

        return sent;
    }

    private static Task InvokeAsync(LlmCostTestHost host, string name) =>
        host.Services.GetServices<IBackgroundFunction>().Single(f => f.Definition.Name == name).InvokeAsync(new FunctionInvocation(name, Guid.NewGuid().ToString()));

    /// <summary>The engine advice prices with: the built-in catalog's list prices (these tenants have no policy).</summary>
    private static PricingEngine Engine(LlmCostTestHost host) => PricingEngine.Default;

    [Fact]
    public async Task Trace_replayed_through_the_service_gets_recommendations_whose_savings_equal_repricing_the_recorded_usage_and_a_weekly_digest()
    {
        var smtp = Environment.GetEnvironmentVariable("LLMCOST_TEST_SMTP") is { Length: > 0 } s ? s
            : throw new InvalidOperationException("LLMCOST_TEST_SMTP is not set: run ./test.sh (scripts/test.d/smtp.sh starts the SMTP server) or source that hook yourself.");
        var smtpFolder = Environment.GetEnvironmentVariable("LLMCOST_TEST_SMTP_DIR")
            ?? throw new InvalidOperationException("LLMCOST_TEST_SMTP_DIR is not set (scripts/test.d/smtp.sh exports it).");
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var host = await LlmCostTestHost.StartAsync(o =>
        {
            o.Time = new FakeTimeProvider(Now);
            o.Settings["LlmCost:Advice:Settings"] = Settings;
            o.Settings["LlmCost:Alerts:SmtpHost"] = smtp.Split(':')[0];
            o.Settings["LlmCost:Alerts:SmtpPort"] = smtp.Split(':')[1];
            o.Settings["LlmCost:Alerts:SmtpSecurity"] = "none";
            o.Settings["LlmCost:Alerts:From"] = "advice@llmcost.test";
        });
        List<Sent> sent = await ReplayTraceAsync(host, conversations: 900, code: 300);
        PricingEngine engine = Engine(host);

        foreach (object subscription in new object[]
        {
            new { tenant_id = "acme", channel = "webhook", url = receiver.Url.ToString(), kinds = new[] { AlertKinds.AdviceDigest } },
            new { tenant_id = "acme", channel = "email", email = "finops@example.test", kinds = new[] { AlertKinds.AdviceDigest } },
        })
        {
            var (status, body) = await host.Client.PostAsync("api/alerts/subscriptions", subscription);
            Assert.True(status == 201, body.ToString());
        }

        // The timer: rollups list the tenant, the recommendations run stores the 7 days before this Monday and raises the digest.
        await InvokeAsync(host, "OpsRollups");
        await InvokeAsync(host, "AdviceRecommendations");

        var (ok, answer) = await host.Client.GetJsonAsync("api/recommendations?tenant_id=acme&from=2026-11-16&to=2026-11-23");
        Assert.True(ok == 200, answer.ToString());
        Assert.Equal("stored", answer.GetProperty("source").GetString());
        Assert.Equal(sent.Count, answer.GetProperty("requests").GetInt64());
        List<JsonElement> recommendations = [.. answer.GetProperty("recommendations").EnumerateArray()];
        foreach (JsonElement r in recommendations)
        {
            output.WriteLine($"{r.GetProperty("kind")} {r.GetProperty("provider")}/{r.GetProperty("model")} -> {r.GetProperty("suggested_provider")}/{r.GetProperty("suggested_model")}: "
                + $"current {r.GetProperty("current_cost_usd")} projected {r.GetProperty("projected_cost_usd")} savings {r.GetProperty("savings_usd")}");
        }

        // Hand-decided from the quality scores and list prices ($/M input / output), same provider only:
        // gpt-4o (70; 2.50/10) -> gpt-6-luna (72; 0.10/0.50); claude-opus-4-1 (80; 15/75) -> claude-haiku-4-5 (80; 1/5);
        // gemini-2.5-pro (75; 1.25/10) -> gemini-3.1-flash-lite (78; 0.25/1.50); gpt-4o-mini (55; 0.15/0.60) -> gpt-6-luna.
        var expected = new Dictionary<string, (string Provider, string Model)>
        {
            ["gpt-4o"] = ("openai", "gpt-6-luna"),
            ["claude-opus-4-1-20250805"] = ("anthropic", "claude-haiku-4-5"),
            ["gemini-2.5-pro"] = ("google", "gemini-3.1-flash-lite"),
            ["gpt-4o-mini"] = ("openai", "gpt-6-luna"),
        };
        List<JsonElement> cheaper = [.. recommendations.Where(r => r.GetProperty("kind").GetString() == "cheaper_model")];
        Assert.Equal(expected.Count, cheaper.Count);
        decimal exactTotal = 0m;
        foreach (JsonElement r in cheaper)
        {
            string model = r.GetProperty("model").GetString()!;
            Assert.Equal(expected[model], (r.GetProperty("suggested_provider").GetString()!, r.GetProperty("suggested_model").GetString()!));
            Assert.Equal("tenant", r.GetProperty("scope").GetString());
            Assert.Equal("acme", r.GetProperty("scope_id").GetString());

            // The oracle: what ingestion acknowledged for each event of the model, and the same usage priced as a call
            // of the suggested model at the event's own timestamp (the app's one pricing entry point).
            List<Sent> mine = [.. sent.Where(e => e.Model == model)];
            decimal recorded = mine.Sum(e => e.Cost);
            decimal repriced = mine.Sum(e => engine.Price(new PriceRequest(expected[model].Provider, expected[model].Model, e.At, e.Usage, "acme")).CostUsd);
            Assert.Equal(recorded, r.Money("current_cost_usd"));
            Assert.Equal(repriced, r.Money("projected_cost_usd"));
            Assert.Equal(recorded - repriced, r.Money("savings_usd"));
            Assert.True(recorded - repriced > 0m);
            Assert.Equal(mine.Count, r.GetProperty("evidence").GetProperty("requests").GetInt64());
            // Money is a decimal string on the wire.
            Assert.Equal(JsonValueKind.String, r.GetProperty("savings_usd").ValueKind);
            exactTotal += recorded - repriced;
        }

        // The code rows are non-interactive: the provider's published batch discount, flagged as an estimate.
        JsonElement batch = recommendations.Single(r => r.GetProperty("kind").GetString() == "batch_or_off_peak");
        decimal codeCost = sent.Where(e => e.App == "code-batch").Sum(e => e.Cost);
        Assert.Equal(codeCost, batch.Money("current_cost_usd"));
        Assert.Equal(codeCost * 0.5m, batch.Money("savings_usd"));
        Assert.True(batch.GetProperty("evidence").GetProperty("estimate").GetBoolean());

        // Per team, on demand: each team's figures for a model add up exactly to the tenant's.
        var (teamStatus, perTeam) = await host.Client.GetJsonAsync("api/recommendations?tenant_id=acme&from=2026-11-16&to=2026-11-23&scope=team&kind=cheaper_model");
        Assert.True(teamStatus == 200, perTeam.ToString());
        Assert.Equal("on_demand", perTeam.GetProperty("source").GetString());
        List<JsonElement> teamRows = [.. perTeam.GetProperty("recommendations").EnumerateArray()];
        Assert.All(teamRows, r => Assert.Equal("cheaper_model", r.GetProperty("kind").GetString()));
        foreach (JsonElement tenantRow in cheaper)
        {
            string model = tenantRow.GetProperty("model").GetString()!;
            List<JsonElement> parts = [.. teamRows.Where(r => r.GetProperty("model").GetString() == model)];
            Assert.Equal(["blue", "red"], parts.Select(p => p.GetProperty("scope_id").GetString()).Order(StringComparer.Ordinal));
            Assert.Equal(tenantRow.Money("current_cost_usd"), parts.Sum(p => p.Money("current_cost_usd")));
        }

        // A period the timer did not store is answered on demand, from the same events.
        var (dayStatus, day) = await host.Client.GetJsonAsync("api/recommendations?tenant_id=acme&from=2026-11-16&to=2026-11-17");
        Assert.True(dayStatus == 200, day.ToString());
        Assert.Equal("on_demand", day.GetProperty("source").GetString());
        Assert.Equal(sent.Count, day.GetProperty("requests").GetInt64());

        // The weekly digest: one alert through the queue to the webhook and the e-mail subscription.
        var queue = host.Services.GetRequiredService<LlmCostStorage>().Queue(OperationsStorage.AlertQueue);
        var message = (await queue.ReceiveMessageAsync(TimeSpan.FromSeconds(5))).Value;
        Assert.NotNull(message);
        var fanOut = host.Services.GetServices<IBackgroundFunction>().Single(f => f.Definition.Name == "OpsAlertFanOut");
        await fanOut.InvokeAsync(new FunctionInvocation(fanOut.Definition.Name, Guid.NewGuid().ToString(), message.Body.ToString(), 1));
        await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);

        ReceivedRequest delivered = Assert.Single(receiver.Requests);
        using JsonDocument digest = JsonDocument.Parse(delivered.Body);
        Assert.Equal("advice_digest", digest.RootElement.GetProperty("kind").GetString());
        JsonElement details = digest.RootElement.GetProperty("details");
        Assert.Equal(recommendations.Count.ToString(CultureInfo.InvariantCulture), details.GetProperty("recommendations").GetString());
        decimal exactInAnswer = recommendations.Where(r => !r.GetProperty("evidence").GetProperty("estimate").GetBoolean()).Sum(r => r.Money("savings_usd"));
        Assert.Equal(exactTotal, exactInAnswer);
        Assert.Equal(exactInAnswer, decimal.Parse(details.GetProperty("savings_exact_usd").GetString()!, CultureInfo.InvariantCulture));
        JsonElement top = recommendations[0];
        Assert.Contains($"{top.GetProperty("provider").GetString()}/{top.GetProperty("model").GetString()}", details.GetProperty("top_1").GetString(), StringComparison.Ordinal);

        MimeMessage? mail = null;
        for (int i = 0; i < 100 && mail is null; i++)
        {
            foreach (string file in Directory.GetFiles(smtpFolder, "*.eml"))
            {
                MimeMessage candidate = await MimeMessage.LoadAsync(file);
                if (candidate.To.Mailboxes.Any(m => m.Address == "finops@example.test")
                    && candidate.TextBody?.Contains(digest.RootElement.GetProperty("alert_id").GetString()!, StringComparison.Ordinal) == true)
                {
                    mail = candidate;
                }
            }

            if (mail is null)
            {
                await Task.Delay(100);
            }
        }

        Assert.NotNull(mail);
        Assert.Contains("Weekly cost advice", mail.TextBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Adaptive_budgets_suggest_current_capable_models_and_business_metrics_count_the_decisions_and_the_downgrade_savings()
    {
        await using var host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));
        PricingEngine engine = Engine(host);
        var (created, budget) = await host.Client.PostAsync("api/budgets", new
        {
            tenant_id = "acme", scope = "user", scope_id = "alice", amount_usd = "0.01", period = "daily", mode = "adaptive",
        });
        Assert.True(created == 201, budget.ToString());

        // A small call fits: admitted (gpt-4o-mini, 100 + 100 tokens at $0.15/$0.60 per M = $0.000075).
        JsonElement small = await AuthorizeAsync("openai", "gpt-4o-mini", "r0", 100);
        Assert.Equal("allow", small.GetProperty("decision").GetString());

        // Worst cases for 1,000 input + 1,000 output tokens at list prices ($/M): claude-opus-4-1 15/75 = $0.09,
        // claude-opus-4-5 5/25 = $0.03, claude-sonnet-4-5 3/15 = $0.018, claude-haiku-4-5 1/5 = $0.006. With
        // $0.009925 left, the most capable Anthropic model that fits is claude-haiku-4-5 (reasoning, like opus-4-1).
        async Task<JsonElement> AuthorizeAsync(string provider, string model, string requestId, int tokens = 1000)
        {
            var (status, body) = await host.Client.PostAsync("api/budgets/authorize", new
            {
                tenant_id = "acme", user_id = "alice", team_id = "red", provider, model, input_tokens = tokens, max_tokens = tokens, request_id = requestId,
            });
            Assert.True(status == 200, body.ToString());
            return body;
        }

        JsonElement opus = await AuthorizeAsync("anthropic", "claude-opus-4-1", "r1");
        Assert.Equal("downgrade", opus.GetProperty("decision").GetString());
        Assert.Equal("claude-haiku-4-5", opus.GetProperty("suggested_model").GetString());
        await AuthorizeAsync("anthropic", "claude-opus-4-1", "r1"); // a retry: counted once

        // gpt-4o ($2.50/$10: $0.0125) does not fit either; the suggestion is a current OpenAI model, never a retired base model.
        JsonElement gpt = await AuthorizeAsync("openai", "gpt-4o", "r2");
        Assert.Equal("downgrade", gpt.GetProperty("decision").GetString());
        string suggested = gpt.GetProperty("suggested_model").GetString()!;
        Assert.DoesNotContain(suggested, new[] { "curie", "babbage", "davinci", "ada", "text-curie-001" });
        ModelSelector selector = host.Services.GetRequiredService<ModelSelector>();
        Assert.Contains(("openai", suggested), host.Services.GetRequiredService<IDowngradeCatalog>().Candidates("openai", "gpt-4o", 1000, 1000, "acme"));
        // Only current models with capability facts are candidates (the catalog's rule, tested in Core).
        Assert.NotNull(selector.Capabilities.Find("openai", suggested));

        // Nothing capable fits any more ($0.003925 minus the gpt-4o downgrade's reservation is left; claude-haiku-4-5 needs $0.006): denied.
        JsonElement denied = await AuthorizeAsync("anthropic", "claude-opus-4-1", "r3");
        Assert.Equal("deny", denied.GetProperty("decision").GetString());

        // The downgraded call settles with its usage on the suggested model.
        var usage = new CanonicalUsage { InputTokens = 1000, OutputTokens = 800 };
        var (recorded, ack) = await host.Client.PostAsync("api/usage", new
        {
            event_id = "e-opus", tenant_id = "acme", user_id = "alice", team_id = "red", provider = "anthropic", model = "claude-haiku-4-5",
            timestamp = Now.AddMinutes(-1).ToString("O", CultureInfo.InvariantCulture), reservation_id = opus.GetProperty("reservation_id").GetString(),
            usage = new { input_tokens = 1000, output_tokens = 800 },
        });
        Assert.True(recorded == 200, ack.ToString());

        var (status, metrics) = await host.Client.GetJsonAsync("api/metrics/business?tenant_id=acme&from=2026-11-22&to=2026-11-24");
        Assert.True(status == 200, metrics.ToString());
        JsonElement adherence = metrics.GetProperty("budget_adherence");
        Assert.True(adherence.GetProperty("recorded").GetBoolean());
        Assert.Equal(1, adherence.GetProperty("admitted").GetInt64());
        Assert.Equal(2, adherence.GetProperty("downgraded").GetInt64());
        Assert.Equal(1, adherence.GetProperty("denied").GetInt64());
        Assert.Equal(0.75m, adherence.GetProperty("rate").GetDecimal()); // (1 admitted + 2 downgraded) / 4 decisions

        // The saving of the downgrade: the same usage priced on the model asked for, minus what was recorded.
        decimal asked = engine.Price(new PriceRequest("anthropic", "claude-opus-4-1", Now.AddMinutes(-1), usage, "acme")).CostUsd;
        decimal paid = engine.Price(new PriceRequest("anthropic", "claude-haiku-4-5", Now.AddMinutes(-1), usage, "acme")).CostUsd;
        JsonElement savings = metrics.GetProperty("savings");
        Assert.Equal(asked - paid, savings.Money("downgrades_usd"));
        Assert.Equal(1, savings.GetProperty("downgraded_requests").GetInt64());
        Assert.Equal(paid, metrics.Money("cost_usd"));
    }

    [Fact]
    public async Task Model_selection_ranks_by_estimated_cost_explains_each_model_and_labels_the_budget_decision()
    {
        await using var host = await LlmCostTestHost.StartAsync(o => o.Time = new FakeTimeProvider(Now));
        var (created, budget) = await host.Client.PostAsync("api/budgets", new
        {
            tenant_id = "acme", scope = "user", scope_id = "alice", amount_usd = "0.02", period = "daily", mode = "hard",
        });
        Assert.True(created == 201, budget.ToString());
        string budgetId = budget.GetProperty("budget_id").GetString()!;

        var (status, answer) = await host.Client.PostAsync("api/models/select", new
        {
            tenant_id = "acme", user_id = "alice", providers = new[] { "anthropic" }, tools = true, input_modalities = new[] { "text", "image" },
            expected_input_tokens = 1000, expected_output_tokens = 1000, max_candidates = 100,
        });
        Assert.True(status == 200, answer.ToString());
        List<JsonElement> candidates = [.. answer.GetProperty("candidates").EnumerateArray()];
        foreach (JsonElement c in candidates)
        {
            output.WriteLine($"{c.GetProperty("rank")} {c.GetProperty("model")} {c.GetProperty("estimated_cost_usd")} {c.GetProperty("budget_decision").GetProperty("outcome")}");
        }

        // Ranked by estimated cost, cheapest first.
        List<decimal> costs = [.. candidates.Select(c => c.Money("estimated_cost_usd"))];
        Assert.Equal(costs.Order(), costs);

        // Hand-checked at list prices ($/M input / output) for 1,000 + 1,000 tokens, against $0.02 left:
        JsonElement Candidate(string model) => candidates.Single(c => c.GetProperty("model").GetString() == model);
        (string Model, string Cost, string Outcome)[] cases =
        [
            ("claude-3-haiku", "0.0015", "allow"),        // 0.25 / 1.25
            ("claude-haiku-4-5", "0.006", "allow"),       // 1 / 5
            ("claude-sonnet-4-5", "0.018", "allow"),      // 3 / 15
            ("claude-opus-4-5", "0.03", "deny"),          // 5 / 25
            ("claude-opus-4-1", "0.09", "deny"),          // 15 / 75
        ];
        foreach ((string model, string cost, string outcome) in cases)
        {
            JsonElement c = Candidate(model);
            Assert.Equal(decimal.Parse(cost, CultureInfo.InvariantCulture), c.Money("estimated_cost_usd"));
            JsonElement decision = c.GetProperty("budget_decision");
            Assert.Equal(outcome, decision.GetProperty("outcome").GetString());
            if (outcome == "deny")
            {
                Assert.Equal(budgetId, decision.GetProperty("budget_id").GetString());
            }

            // Why it was kept: each need it meets.
            string reasons = string.Join(" | ", c.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));
            Assert.Contains("tool", reasons, StringComparison.OrdinalIgnoreCase);
        }

        // Every other Anthropic model is listed as excluded, each with a stable reason code.
        List<JsonElement> excluded = [.. answer.GetProperty("excluded").EnumerateArray()];
        Assert.Equal(answer.GetProperty("considered").GetInt32(), candidates.Count + excluded.Count);
        Assert.All(excluded, e => Assert.NotEmpty(e.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("code").GetString())));

        // Bad input names the field.
        var (bad, problem) = await host.Client.PostAsync("api/models/select", new { tenant_id = "acme", expected_input_tokens = 10, input_modalities = new[] { "text", "smell" } });
        Assert.Equal(400, bad);
        Assert.True(problem.GetProperty("errors").TryGetProperty("input_modalities[1]", out _), problem.ToString());
        Assert.True(problem.GetProperty("errors").TryGetProperty("expected_output_tokens", out _), problem.ToString());
        var (badUser, userProblem) = await host.Client.PostAsync("api/models/select", new { tenant_id = "acme", user_id = "a|b", expected_input_tokens = 10, expected_output_tokens = 10 });
        Assert.Equal(400, badUser);
        Assert.True(userProblem.GetProperty("errors").TryGetProperty("user_id", out _), userProblem.ToString());
        var (badPeriod, periodProblem) = await host.Client.GetJsonAsync("api/recommendations?tenant_id=acme&from=2026-11-20&to=2026-11-10");
        Assert.Equal(400, badPeriod);
        Assert.True(periodProblem.GetProperty("errors").TryGetProperty("from", out _), periodProblem.ToString());
    }
}
