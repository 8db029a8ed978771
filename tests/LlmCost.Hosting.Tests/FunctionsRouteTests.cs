using LlmCost.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace LlmCost.Hosting.Tests;

public class FunctionsRouteTests
{
    [Theory]
    [InlineData("/api/usage", "api/usage")]
    [InlineData("/api/users/{userId}/usage", "api/users/{userId}/usage")]
    [InlineData("api/users/{userId}/events", "api/users/{userId}/events")]
    [InlineData("/api/items/{id:int}", "api/items/{id:int}")]
    [InlineData("/api/items/{id:guid}/{part?}", "api/items/{id:guid}/{part?}")]
    [InlineData("/api/range/{n:range(1,10)}", "api/range/{n:range(1,10)}")]
    [InlineData("/api/reports/{year:int:min(2000)}", "api/reports/{year:int:min(2000)}")]
    [InlineData("/api/files/{**path}", "api/files/{*path}")]
    [InlineData("/api/files/{*path}", "api/files/{*path}")]
    [InlineData("/api/page/{size=10}", "api/page/{size?}")]
    [InlineData("/api/files/{name}.{ext}", "api/files/{name}.{ext}")]
    [InlineData("/api/keys/{keyId:required}", "api/keys/{keyId}")]
    [InlineData("/API/Usage", "API/Usage")]
    public void Translates_aspnet_route_patterns_to_function_routes(string pattern, string expected)
    {
        Assert.Equal(expected, FunctionsRoute.FromPattern(RoutePatternFactory.Parse(pattern)));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/openapi/{documentName}.json")]
    [InlineData("/{functionName}")]
    [InlineData("/apis/x")]
    public void Routes_outside_api_are_not_functions(string pattern)
    {
        Assert.Null(FunctionsRoute.FromPattern(RoutePatternFactory.Parse(pattern)));
    }

    [Fact]
    public void A_host_routed_endpoint_outside_api_is_a_function_with_its_full_path()
    {
        Assert.Equal("dashboard/{*path}", FunctionsRoute.FromPattern(RoutePatternFactory.Parse("/dashboard/{**path}"), hostRouted: true));
        var definitions = FunctionCatalog.HttpDefinitions(
        [
            new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse("/dashboard/{**path}"), 0,
                new EndpointMetadataCollection(new EndpointNameMetadata("Dashboard"), new HttpMethodMetadata(["GET"]), HostRoutedEndpoint.Instance), "Dashboard"),
            Endpoint("/other/{**path}", "NotRouted", "GET"),
        ]);
        Assert.Equal("dashboard/{*path}", Assert.Single(definitions).Route);
    }

    [Fact]
    public void Http_definitions_take_name_route_and_lower_case_methods_from_the_endpoint()
    {
        var definitions = FunctionCatalog.HttpDefinitions(
        [
            Endpoint("/api/users/{userId}/usage", "GetUserUsage", "GET"),
            Endpoint("/api/usage", "PostUsage", "POST", "PUT"),
            Endpoint("/", "Root", "GET"),
        ]);

        Assert.Equal(2, definitions.Count);
        var user = Assert.Single(definitions, d => d.Name == "GetUserUsage");
        Assert.Equal(TriggerKind.Http, user.Trigger);
        Assert.Equal("api/users/{userId}/usage", user.Route);
        Assert.Equal(["get"], user.Methods);
        Assert.Equal(["post", "put"], Assert.Single(definitions, d => d.Name == "PostUsage").Methods);
    }

    [Fact]
    public void An_api_endpoint_without_a_name_is_an_error_naming_the_endpoint()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FunctionCatalog.HttpDefinitions([Endpoint("/api/price", null, "POST")]));
        Assert.Contains("POST /api/price", error.Message, StringComparison.Ordinal);
        Assert.Contains("WithName", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("admin/keys")]
    [InlineData("administration")]
    [InlineData("runtime/status")]
    public void Routes_the_host_reserves_are_rejected(string route)
    {
        var error = Assert.Throws<InvalidOperationException>(() => FunctionCatalog.Validate(
            [new FunctionDefinition { Name = "Reserved", Trigger = TriggerKind.Http, Route = route, Methods = ["get"] }]));
        Assert.Contains("Reserved", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_names_bad_names_schedules_and_queue_names_are_rejected()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FunctionCatalog.Validate(
        [
            new FunctionDefinition { Name = "Same", Trigger = TriggerKind.Http, Route = "a", Methods = ["get"] },
            FunctionDefinition.Timer("same", "0 */5 * * * *"),
            FunctionDefinition.Timer("FiveFields", "*/5 * * * *"),
            FunctionDefinition.QueueTriggered("BadQueue", "Upper_Case"),
            FunctionDefinition.QueueTriggered("9Starts", "fine-queue"),
        ]));
        Assert.Contains("'Same' is used 2 times", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("FiveFields", error.Message, StringComparison.Ordinal);
        Assert.Contains("BadQueue", error.Message, StringComparison.Ordinal);
        Assert.Contains("'9Starts' is not a valid function name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_functions_claiming_the_same_method_and_route_are_rejected()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FunctionCatalog.Validate(
        [
            new FunctionDefinition { Name = "A", Trigger = TriggerKind.Http, Route = "usage", Methods = ["get", "post"] },
            new FunctionDefinition { Name = "B", Trigger = TriggerKind.Http, Route = "usage", Methods = ["post"] },
        ]));
        Assert.Contains("POST usage is claimed by A, B", error.Message, StringComparison.Ordinal);
    }

    private static RouteEndpoint Endpoint(string pattern, string? name, params string[] methods)
    {
        var metadata = new List<object> { new HttpMethodMetadata(methods) };
        if (name is not null)
        {
            metadata.Add(new EndpointNameMetadata(name));
        }

        return new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse(pattern), 0, new EndpointMetadataCollection(metadata), name);
    }
}
