// The LlmCost middleware around a chat client, against a running service (./run.sh).
//
//   ./run.sh                                   # in another terminal
//   dotnet run --project samples/LlmCost.Client.Sample
//
// LLMCOST_URL (default http://127.0.0.1:7071) and LLMCOST_ADMIN_KEY (default run.sh's dev key) point it elsewhere.
// The admin key is used only to set the scene (an ingest key for the app, a small budget); the app itself runs
// with the ingest key, as a real app would.
using System.Net.Http.Json;
using LlmCost.Client;
using LlmCost.Client.Sample;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

var url = new Uri(Environment.GetEnvironmentVariable("LLMCOST_URL") ?? "http://127.0.0.1:7071");
string adminKey = Environment.GetEnvironmentVariable("LLMCOST_ADMIN_KEY") ?? "dev-admin-key-change-me";
const string tenant = "sample";
string user = "alice-" + DateTime.UtcNow.ToString("HHmmss", System.Globalization.CultureInfo.InvariantCulture);

// 1. The scene: an ingest key for the app and a $0.01 monthly hard budget for this user.
using var admin = new HttpClient { BaseAddress = url };
admin.DefaultRequestHeaders.Authorization = new("Bearer", adminKey);
var key = await (await admin.PostAsJsonAsync("api/keys", new { role = "ingest", tenant_id = tenant })).EnsureSuccessStatusCode()
    .Content.ReadFromJsonAsync<Dictionary<string, object>>();
var budget = await (await admin.PostAsJsonAsync("api/budgets", new
{
    tenant_id = tenant, scope = "user", scope_id = user, amount_usd = "0.01", period = "monthly", mode = "hard",
})).EnsureSuccessStatusCode().Content.ReadFromJsonAsync<Dictionary<string, object>>();
string budgetId = budget!["budget_id"].ToString()!;
Console.WriteLine($"user {user}, budget {budgetId}: $0.01 a month");

// 2. The app: the client and the middleware, registered the usual way.
var services = new ServiceCollection();
services.AddLogging();
services.AddLlmCostClient(o =>
{
    o.BaseAddress = url;
    o.ApiKey = key!["api_key"].ToString();
    o.App = "sample";
});
services.AddChatClient(new FakeChatClient())
    .UseLlmCost(o =>
    {
        o.UserId = user;
        o.AuthorizationTimeout = TimeSpan.FromSeconds(10); // generous for a busy laptop; the default is 2 s
        o.OnCallCompleted = call => Console.WriteLine(
            $"  -> {(call.FailedOpen ? "service unavailable, went ahead (fail-open)" : call.Decision?.Decision ?? "not authorised")} on {call.Model}, reservation {call.ReservationId ?? "-"}, " +
            $"{call.Settlement.ToString().ToLowerInvariant()} as event {call.EventId ?? "-"}");
    });
await using ServiceProvider provider = services.BuildServiceProvider();
IChatClient chat = provider.GetRequiredService<IChatClient>();
var options = new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 500 };

Console.WriteLine("a call:");
ChatResponse answer = await chat.GetResponseAsync("What is an LLM budget?", options);
Console.WriteLine($"  {answer.Text}");

Console.WriteLine("a streamed call:");
await foreach (ChatResponseUpdate update in chat.GetStreamingResponseAsync("And streaming?", options))
{
    Console.Write(update.Text);
}

Console.WriteLine();
Console.WriteLine("a call whose worst case does not fit the budget (gpt-4o, 100,000 output tokens):");
try
{
    await chat.GetResponseAsync("Write a novel.", new ChatOptions { ModelId = "gpt-4o", MaxOutputTokens = 100_000 });
}
catch (LlmCostBudgetDeniedException denied)
{
    Console.WriteLine($"  denied: {denied.Reason}");
}

// 3. What the service knows now (the buffer is flushed first; the app's key cannot read, the admin can).
LlmCostClient client = provider.GetRequiredService<LlmCostClient>();
await client.FlushAsync();
var status = await admin.GetFromJsonAsync<Dictionary<string, object>>($"api/budgets/{budgetId}/status");
Console.WriteLine($"budget: spent ${status!["spent_usd"]}, reserved ${status["reserved_usd"]}, remaining ${status["remaining_usd"]}");
var usage = await admin.GetFromJsonAsync<System.Text.Json.JsonElement>($"api/users/{user}/usage?tenant_id={tenant}");
Console.WriteLine($"usage:  {usage.GetProperty("total")}");
