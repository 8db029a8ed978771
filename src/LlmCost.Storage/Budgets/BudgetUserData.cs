using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using LlmCost.Core.Alerts;
using LlmCost.Core.Budgets;
using LlmCost.Core.Retention;

namespace LlmCost.Storage.Budgets;

/// <summary>
/// The budget module's per-user data for GDPR: period states whose subject is the user (spend of user budgets and
/// of budgets every user inherits), reservations made for the user, freezes on the user, budgets scoped to the user
/// and budget alerts about the user. Export lists them; erasure goes through the budgets module
/// (<see cref="IBudgetUserData"/>), which also releases the user's open reservations and removes their lanes, so the
/// user's next call, if any, starts from nothing.
/// </summary>
public sealed class BudgetUserData(LlmCostStorage storage, IBudgetUserData budgets) : IUserDataHolder
{
    public string Name => "budgets";

    private TableClient Table => storage.Table(TableBudgetStore.TableName);

    public async Task<JsonNode?> ExportAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        var export = new JsonObject
        {
            ["states"] = new JsonArray(),
            ["reservations"] = new JsonArray(),
            ["freezes"] = new JsonArray(),
            ["budgets"] = new JsonArray(),
            ["alerts"] = new JsonArray(),
        };
        await foreach (var (kind, row) in UserRowsAsync(tenantId, userId, cancellationToken).ConfigureAwait(false))
        {
            JsonNode node = kind == "st"
                ? new JsonObject
                {
                    ["budget_id"] = row.GetString("BudgetId"),
                    ["period_start"] = row.GetDateTimeOffset("PeriodStart")?.ToString("O", CultureInfo.InvariantCulture),
                    ["period_end"] = row.GetDateTimeOffset("PeriodEnd")?.ToString("O", CultureInfo.InvariantCulture),
                    ["spent_usd"] = row.GetString("SpentUsd"),
                    ["spent_tokens"] = row.GetInt64("SpentTokens"),
                    ["event_count"] = row.GetInt64("EventCount"),
                }
                : JsonNode.Parse(row.GetString("Json"))!;
            export[Section(kind)]!.AsArray().Add(node);
        }

        return export;
    }

    public async Task<int> EraseAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        BudgetUserErasure erased = await budgets.ForgetUserAsync(tenantId, userId, cancellationToken).ConfigureAwait(false);
        return erased.DeletedRows.Values.Sum();
    }

    private async IAsyncEnumerable<(string Kind, TableEntity Row)> UserRowsAsync(
        string tenantId, string userId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {TableBudgetStore.Partition(tenantId)}");
        await foreach (var row in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var kind = row.GetString("Kind");
            var about = kind switch
            {
                "st" => row.GetString("Subject") == userId,
                "rs" => Deserialize<ReservationRecord>(row)?.UserId == userId,
                "fz" => Deserialize<FreezeRecord>(row) is { Scope: BudgetScope.User } f && f.ScopeId == userId,
                "df" => Deserialize<BudgetDefinition>(row) is { Scope: BudgetScope.User } b && b.ScopeId == userId,
                "al" => Deserialize<Alert>(row) is { Scope: "user" } a && a.ScopeId == userId,
                _ => false,
            };
            if (about)
            {
                yield return (kind!, row);
            }
        }
    }

    private static T? Deserialize<T>(TableEntity row) =>
        row.GetString("Json") is { } json ? JsonSerializer.Deserialize<T>(json, TableBudgetStore.Json) : default;

    private static string Section(string kind) => kind switch
    {
        "st" => "states",
        "rs" => "reservations",
        "fz" => "freezes",
        "df" => "budgets",
        _ => "alerts",
    };
}
