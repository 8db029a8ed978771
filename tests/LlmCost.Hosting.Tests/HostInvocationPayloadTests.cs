using System.Text.Json;
using LlmCost.Hosting;

namespace LlmCost.Hosting.Tests;

/// <summary>Payloads written by hand in the exact shapes of reference §2.2 / §2.4 (host 4.x encoding).</summary>
public class HostInvocationPayloadTests
{
    private static readonly FunctionDefinition Queue = FunctionDefinition.QueueTriggered("AlertFanOut", "llmcost-alerts");
    private static readonly FunctionDefinition Timer = FunctionDefinition.Timer("Rollup", "0 */5 * * * *");

    [Fact]
    public void A_double_encoded_queue_message_and_string_dequeue_count_are_decoded()
    {
        const string payload = """
            {
              "Data": { "message": "\"{\\\"tenantId\\\":\\\"t1\\\",\\\"tokens\\\":42}\"" },
              "Metadata": {
                "DequeueCount": "3",
                "ExpirationTime": "2019-10-16T17:58:31+00:00",
                "Id": "\"800ae4b3-bdd2-4c08-badd-f08e5a34b865\"",
                "InsertionTime": "2019-10-09T17:58:31+00:00",
                "NextVisibleTime": "2019-10-09T18:08:32+00:00",
                "PopReceipt": "\"AgAAAAMAAAAAAAAAAgtnj8x+1QE=\"",
                "tenantId": "\"t1\"",
                "sys": { "MethodName": "AlertFanOut", "UtcNow": "2019-10-09T17:58:32.2205399Z", "RandGuid": "24ad4c06-0000-0000-0000-000000000000" }
              }
            }
            """;

        var invocation = Parse(Queue, payload);

        Assert.Equal("""{"tenantId":"t1","tokens":42}""", invocation.QueueMessage);
        Assert.Equal(3, invocation.DequeueCount);
        Assert.Equal("AlertFanOut", invocation.FunctionName);
        Assert.Equal("inv-1", invocation.InvocationId);
    }

    [Fact]
    public void A_plain_text_message_is_decoded_once_more_and_a_numeric_dequeue_count_is_accepted()
    {
        var invocation = Parse(Queue, """{"Data":{"message":"\"hello world\""},"Metadata":{"DequeueCount":1}}""");
        Assert.Equal("hello world", invocation.QueueMessage);
        Assert.Equal(1, invocation.DequeueCount);
    }

    [Fact]
    public void A_message_that_is_itself_a_json_string_keeps_its_quotes()
    {
        // The app enqueued the text "\"quoted\"" (a JSON string literal); the host encodes that twice more.
        var twice = JsonSerializer.Serialize(JsonSerializer.Serialize("\"quoted\""));
        var invocation = Parse(Queue, "{\"Data\":{\"message\":" + twice + "},\"Metadata\":{\"DequeueCount\":\"2\"}}");
        Assert.Equal("\"quoted\"", invocation.QueueMessage);
    }

    [Fact]
    public void An_object_trigger_value_is_taken_as_its_json_text()
    {
        var invocation = Parse(Queue, """{"Data":{"message":{"a":1}},"Metadata":{}}""");
        Assert.Equal("""{"a":1}""", invocation.QueueMessage);
        Assert.Equal(1, invocation.DequeueCount);
    }

    [Fact]
    public void A_timer_info_object_gives_is_past_due()
    {
        const string payload = """
            {
              "Data": { "timer": { "Schedule": { "AdjustForDST": true },
                                   "ScheduleStatus": { "Last": "2024-01-01T00:00:00Z", "Next": "2024-01-01T00:05:00Z", "LastUpdated": "2024-01-01T00:00:00Z" },
                                   "IsPastDue": true } },
              "Metadata": { "sys": { "MethodName": "Rollup", "UtcNow": "2024-01-01T00:05:00.1Z", "RandGuid": "x" } }
            }
            """;
        var invocation = Parse(Timer, payload);
        Assert.True(invocation.IsPastDue);
        Assert.Null(invocation.QueueMessage);
    }

    [Fact]
    public void A_timer_without_schedule_status_is_not_past_due()
    {
        var invocation = Parse(Timer, """{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{}}}""");
        Assert.False(invocation.IsPastDue);
    }

    [Theory]
    [InlineData("""{"Data":{},"Metadata":{}}""", "Data.message")]
    [InlineData("""{"Metadata":{}}""", "Data.message")]
    [InlineData("""{"Data":{"message":"\"x\""},"Metadata":{"DequeueCount":"one"}}""", "DequeueCount")]
    [InlineData("""[]""", "JSON object")]
    public void Malformed_queue_payloads_are_refused_naming_the_field(string payload, string field)
    {
        using var document = JsonDocument.Parse(payload);
        Assert.False(HostInvocationPayload.TryParse(Queue, document.RootElement, "inv-1", out var invocation, out var error));
        Assert.Null(invocation);
        Assert.Contains(field, error, StringComparison.Ordinal);
    }

    private static FunctionInvocation Parse(FunctionDefinition definition, string payload)
    {
        using var document = JsonDocument.Parse(payload);
        Assert.True(HostInvocationPayload.TryParse(definition, document.RootElement, "inv-1", out var invocation, out var error), error);
        return invocation!;
    }
}
