using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Xunit.Abstractions;

namespace LlmCost.Functions.Tests.Security;

/// <summary>
/// Zero 5xx for bad input: a generated corpus (CsCheck generators; a failure is shrunk to a small example) of
/// malformed route values, query strings and bodies for EVERY endpoint of the security suite's table, sent through
/// real Kestrel to the real app on Azurite. Each case starts from the endpoint's valid request and breaks it: ids
/// with dots, separators, control characters, lone surrogates (as JSON escapes and as invalid UTF-8 in URLs),
/// calendar-edge dates, overflowing numbers, wrong JSON types, duplicate keys at any depth, deep nesting, truncated
/// or non-UTF-8 bodies. The count of requests per endpoint and in all is written to the test output.
/// </summary>
public sealed class FuzzCorpusTests(SecurityFixture fixture, ITestOutputHelper output) : IClassFixture<SecurityFixture>
{
    /// <summary>
    /// Cases per endpoint; <c>LLMCOST_FUZZ_PER_ENDPOINT</c> overrides (e.g. far more for a long local run). The
    /// OTLP protobuf mutations (<c>OtlpIngestTests</c>) scale with it (a fifth as many).
    /// </summary>
    internal static readonly int PerEndpoint = int.TryParse(Environment.GetEnvironmentVariable("LLMCOST_FUZZ_PER_ENDPOINT"), out var n) && n > 0 ? n : 1500;

    private static readonly string[] NastyStrings =
    [
        "", " ", ".", "..", "...", "~", "~day", "~x|a", "|", "a|b", "/", "a/b", "\\", "#", "?", "%", "%00", "%2e%2e", "..%2f",
        "\0", "\u0001", "\u001f", "\u007f", "\u0085", "\u2028", "\uFEFF", "\uD800", "\uDBFF", "\uDC00", "x\uD800y", "\uDC00\uD800",
        "\uD83D\uDE00", "é", "Ω", "𝒜", "null", "true", "-1", "0", "1e309", "99999999999999999999", "-9223372036854775809",
        "NaN", "Infinity", "0001-01-01", "9999-12-31", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00", "2026-02-30", "2026-03-16T25:00:00Z", "2026-03-16T10:00:00", "-0001-01-01", "'; drop table x;--",
        "<script>alert(1)</script>", "${jndi:ldap://x/a}", "reports/../x", "reports/./acme-t1/2026/03/16/daily.csv",
        "reports/acme-t1/../globex-t2/2026/03/16/daily.csv", "reports//acme-t1", "reports\\acme-t1", "hour", "day", "month", "week",
        "model", "provider", "admin", "reader", "ingest", "user", "team", "tenant", "key", "app", "UTC", "Europe/Berlin", "Asia/Kolkata", "Etc/GMT+12", "America/New_York ", "*", "webhook", "slack", "http://127.0.0.1:1/x",
        "https://169.254.169.254/latest", "javascript:alert(1)", new string('a', 129), new string('x', 5000), new string('.', 64),
    ];

    private static readonly string[] NastyNumbers =
    [
        "0", "-0", "-1", "1.5", "-1.5", "1e400", "-1e400", "1E+2", "0.000000000000000000000000000001", "99999999999999999999999999999",
        "-99999999999999999999999999999", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "2147483648", "1e-400",
    ];

    private static readonly string[] RawPercent = ["%", "%zz", "%ED%A0%80", "%ED%B0%80", "%FF", "%C0%AF", "%00", "%E2%80%AE", "%2F", "%5C", "%2e", "%7C"];

    private static readonly Gen<string> NastyString = Gen.Frequency(
        (6, (IGen<string>)Gen.OneOf(NastyStrings)),
        (2, Gen.String[Gen.Char, 0, 12]),
        (1, Gen.String[Gen.Char['\uD7F0', '\uE010'], 1, 6]),
        (1, Gen.String[Gen.Char[' ', '~'], 0, 40]));

    /// <summary>Any JSON value, as text (strings escaped so lone surrogates travel as \uD800 escapes).</summary>
    private static readonly Gen<string> JsonValue = Gen.Recursive<string>((depth, self) =>
    {
        var scalar = Gen.Frequency(
            (5, (IGen<string>)NastyString.Select(JsonString)),
            (3, Gen.OneOf(NastyNumbers)),
            (1, Gen.OneOf("true", "false", "null")),
            (1, Gen.Long.Select(l => l.ToString(CultureInfo.InvariantCulture))),
            (1, Gen.Double.Select(d => double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture) : "1e999")));
        if (depth >= 3)
        {
            return scalar;
        }

        return Gen.Frequency(
            (6, (IGen<string>)scalar),
            (1, self.List[0, 4].Select(items => "[" + string.Join(",", items) + "]")),
            (1, Gen.Select(NastyString, self, (k, v) => "{" + JsonString(k) + ":" + v + "}")),
            (1, Gen.Int[33, 80].Select(d => new string('[', d) + new string(']', d))));
    });

    [Fact]
    public async Task NoEndpointAnswersA5xxToAnyGeneratedMalformedInput()
    {
        var counts = new ConcurrentDictionary<string, int>();
        var statuses = new ConcurrentDictionary<int, int>();
        var overloaded = new ConcurrentDictionary<string, int>();
        var clock = Stopwatch.StartNew();
        foreach (var row in SecurityMatrixTests.Rows.Where(r => r.Fuzz))
        {
            using var template = await row.Build(fixture, row.Scopes[0], Role.Admin);
            var path = template.RequestUri!.OriginalString;
            var body = template.Content is null ? null : await template.Content.ReadAsStringAsync();
            var gen = Cases(row, path, body);
            await gen.SampleAsync(
                async c =>
                {
                    using var request = new HttpRequestMessage(new HttpMethod(row.Method), c.Path);
                    if (c.Body is not null)
                    {
                        request.Content = new ByteArrayContent(c.Body);
                        request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(c.ContentType);
                    }

                    using var response = await fixture.Client(c.Role).SendAsync(request);
                    var status = (int)response.StatusCode;
                    counts.AddOrUpdate(row.Key, 1, (_, v) => v + 1);
                    statuses.AddOrUpdate(status, 1, (_, v) => v + 1);
                    // Storage that cannot keep up (16 writers at once on a loaded box, contention past the retry bound)
                    // is answered 503 with Retry-After by design: not an input-handling failure, but counted and
                    // bounded below. Anything else 5xx is.
                    if (status == 503 && response.Headers.RetryAfter is not null
                        && (await response.Content.ReadAsStringAsync()).Contains("\"Storage unavailable\"", StringComparison.Ordinal))
                    {
                        overloaded.AddOrUpdate(row.Key, 1, (_, v) => v + 1);
                        return;
                    }

                    if (status >= 500)
                    {
                        throw new InvalidOperationException($"{row.Key}: {status} for {c}: {await response.Content.ReadAsStringAsync()}");
                    }
                },
                iter: PerEndpoint,
                threads: 16,
                print: c => c.ToString());
        }

        foreach (var (key, count) in counts.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"fuzz {key}: {count} malformed requests, no 5xx");
        }

        var total = counts.Values.Sum();
        var summary = $"fuzz corpus: {total} malformed requests over {counts.Count} endpoints in {clock.Elapsed.TotalSeconds:0} s, zero 5xx; statuses "
            + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}x{s.Value}"));
        output.WriteLine(summary);
        Console.WriteLine(summary);
        Assert.Equal(SecurityMatrixTests.Rows.Count(r => r.Fuzz), counts.Count);
        // Overload answers stay rare: at most 2 % of any endpoint's requests.
        Assert.All(overloaded, o => Assert.True(o.Value * 50 <= counts[o.Key], $"{o.Key}: {o.Value} of {counts[o.Key]} requests answered 503 (storage overloaded)"));
        Assert.All(counts.Values, c => Assert.True(c >= PerEndpoint, $"only {c} cases for an endpoint"));
    }

    /// <summary>One generated request.</summary>
    public sealed record FuzzCase(Role Role, string Path, byte[]? Body, string ContentType)
    {
        public override string ToString() =>
            $"{Role} {Path} {(Body is null ? "(no body)" : Encoding.UTF8.GetString(Body[..Math.Min(Body.Length, 400)]))}";
    }

    private static Gen<FuzzCase> Cases(EndpointRow row, string validPath, string? validBody)
    {
        var role = Gen.Frequency((8, (IGen<Role>)Gen.Const(Role.Admin)), (1, Gen.OneOf(Role.Reader, Role.BoundReader, Role.Ingest)));
        var path = PathGen(row.Pattern, validPath);
        var body = BodyGen(validBody, row.Method is "GET" or "DELETE");
        var contentType = Gen.Frequency((9, (IGen<string>)Gen.Const("application/json")), (1, Gen.OneOf("text/plain", "application/json; charset=iso-8859-1", "application/xml")));
        return Gen.Select(role, path, body, contentType, (r, p, b, t) => new FuzzCase(r, p, b, t));
    }

    /// <summary>The valid path with its route values and query values broken (or left alone), params dropped, repeated or added.</summary>
    private static Gen<string> PathGen(string pattern, string validPath)
    {
        var cut = validPath.IndexOf('?', StringComparison.Ordinal);
        var pathPart = cut < 0 ? validPath : validPath[..cut];
        var queryPart = cut < 0 ? string.Empty : validPath[(cut + 1)..];
        var patternSegments = pattern.Trim('/').Split('/');
        var segments = pathPart.Trim('/').Split('/');
        var routeIndexes = Enumerable.Range(0, Math.Min(patternSegments.Length, segments.Length))
            .Where(i => patternSegments[i].StartsWith('{') && patternSegments[i].EndsWith('}')).ToArray();
        var query = queryPart.Length == 0 ? [] : queryPart.Split('&').Select(p => p.Split('=', 2)).Select(p => (p[0], p.Length > 1 ? p[1] : string.Empty)).ToArray();

        var value = Gen.Frequency((5, (IGen<string>)NastyString.Select(Encode)), (1, Gen.OneOf(RawPercent)), (1, Gen.Select(NastyString, Gen.OneOf(RawPercent), (s, p) => Encode(s) + p)));
        var routeValues = value.Array[routeIndexes.Length];
        var routeMask = Gen.Bool.Array[routeIndexes.Length];
        var queryValues = value.Array[query.Length];
        var queryMode = Gen.Int[0, 5].Array[query.Length];
        var extra = Gen.Select(Gen.OneOf("tenant_id", "user_id", "from", "to", "limit", "path", "granularity", "page_size", "by", "app", "tz", "x", "", "%00", "tenant_id[]"), value)
            .List[0, 2];
        return Gen.Select(routeValues, routeMask, queryValues, queryMode, extra, (rv, rm, qv, qm, ex) =>
        {
            var built = (string[])segments.Clone();
            for (var i = 0; i < routeIndexes.Length; i++)
            {
                if (rm[i] || routeIndexes.Length == 1)
                {
                    built[routeIndexes[i]] = rv[i].Length == 0 ? "%20" : rv[i];
                }
            }

            var parts = new List<string>();
            for (var i = 0; i < query.Length; i++)
            {
                var (name, original) = query[i];
                switch (qm[i])
                {
                    case 0: parts.Add($"{name}={original}"); break;               // kept
                    case 1: break;                                               // dropped
                    case 2: parts.Add($"{name}={original}&{name}={qv[i]}"); break; // repeated
                    default: parts.Add($"{name}={qv[i]}"); break;                // broken
                }
            }

            parts.AddRange(ex.Select(e => $"{e.Item1}={e.Item2}"));
            var q = parts.Count == 0 ? string.Empty : "?" + string.Join('&', parts);
            return "/" + string.Join('/', built) + q;
        });
    }

    /// <summary>The valid body broken: members replaced, removed, duplicated (any depth, any case), or the whole text mangled.</summary>
    private static Gen<byte[]?> BodyGen(string? validBody, bool usuallyNone)
    {
        var template = validBody is null ? null : JsonNode.Parse(validBody) as JsonObject;
        var paths = template is null ? [] : MemberPaths(template, []).ToArray();
        var mutated = paths.Length == 0
            ? JsonValue.Select(v => "{\"x\":" + v + "}")
            : Gen.Select(Gen.Int[0, paths.Length - 1], Gen.Int[0, 4], JsonValue, NastyString, (p, op, v, k) => Mutate(template!, paths[p], op, v, k));
        var mutatedTwice = paths.Length == 0
            ? mutated
            : Gen.Select(Gen.Int[0, paths.Length - 1], Gen.Int[0, 4], JsonValue, NastyString, mutated, (p, op, v, k, first) =>
                Mutate(SafeParse(first) ?? template!, paths[p], op, v, k));
        var text = Gen.Frequency(
            (6, (IGen<string>)mutated),
            (2, mutatedTwice),
            (1, JsonValue),
            (1, Gen.Select(Gen.Const(validBody ?? "{}"), Gen.Int[0, 200], (b, i) => b[..Math.Min(i, b.Length)])),
            (1, Gen.Const(validBody ?? "{}").Select(b => b + ",")),
            (1, Gen.Int[33, 200].Select(d => new string('[', d) + new string(']', d))),
            (1, Gen.Const(string.Empty)));
        var bytes = Gen.Frequency(
            (9, (IGen<byte[]>)text.Select(t => Encoding.UTF8.GetBytes(t))),
            (1, Gen.Select(text, Gen.Int[0, 50], Gen.Byte[0x80, 0xFF], (t, at, b) =>
            {
                var raw = Encoding.UTF8.GetBytes(t).ToList();
                raw.Insert(Math.Min(at, raw.Count), b);
                return raw.ToArray();
            })));
        return usuallyNone
            ? Gen.Frequency((9, (IGen<byte[]?>)Gen.Const((byte[]?)null)), (1, bytes.Select(b => (byte[]?)b)))
            : Gen.Frequency((12, (IGen<byte[]?>)bytes.Select(b => (byte[]?)b)), (1, Gen.Const((byte[]?)null)));
    }

    /// <summary>The text as an object when it still is one that JsonNode can hold (no duplicate keys, valid strings).</summary>
    private static JsonObject? SafeParse(string json)
    {
        try
        {
            // Duplicate keys at any depth are refused at parse time, so the object can be walked safely.
            if (JsonNode.Parse(json, null, new System.Text.Json.JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 256 }) is JsonObject obj)
            {
                _ = obj.ToJsonString();
                return obj;
            }

            return null;
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Paths to every object member of the template (members of nested objects and of objects in arrays too).</summary>
    private static IEnumerable<string[]> MemberPaths(JsonObject obj, string[] prefix)
    {
        foreach (var (key, value) in obj)
        {
            string[] path = [.. prefix, key];
            yield return path;
            if (value is JsonObject child)
            {
                foreach (var p in MemberPaths(child, path))
                {
                    yield return p;
                }
            }
        }
    }

    /// <summary>op 0: replace the member's value; 1: remove it; 2: repeat the key; 3: add the key again in other case; 4: add a new member.</summary>
    private static string Mutate(JsonObject template, string[] path, int op, string value, string newKey)
    {
        var text = new StringBuilder();
        Write(template, path, 0, op, value, newKey, text);
        return text.ToString();
    }

    private static void Write(JsonNode? node, string[] path, int depth, int op, string value, string newKey, StringBuilder text)
    {
        if (node is not JsonObject obj)
        {
            text.Append(node?.ToJsonString() ?? "null");
            return;
        }

        text.Append('{');
        var first = true;
        void Member(string key, Action writeValue)
        {
            if (!first)
            {
                text.Append(',');
            }

            first = false;
            text.Append(JsonString(key)).Append(':');
            writeValue();
        }

        var onPath = depth < path.Length;
        foreach (var (key, child) in obj)
        {
            var target = onPath && key == path[depth];
            var last = target && depth == path.Length - 1;
            if (last && op == 1)
            {
                continue;
            }

            Member(key, () =>
            {
                if (last && op == 0)
                {
                    text.Append(value);
                }
                else if (target && !last)
                {
                    Write(child, path, depth + 1, op, value, newKey, text);
                }
                else
                {
                    text.Append(child?.ToJsonString() ?? "null");
                }
            });
            if (last && op == 2)
            {
                Member(key, () => text.Append(value));
            }
            else if (last && op == 3)
            {
                Member(key.ToUpperInvariant(), () => text.Append(value));
            }
            else if (last && op == 4)
            {
                Member(newKey, () => text.Append(value));
            }
        }

        text.Append('}');
    }

    /// <summary>A JSON string literal: everything outside printable ASCII as \uXXXX, so lone surrogates survive as escapes.</summary>
    private static string JsonString(string s)
    {
        var text = new StringBuilder("\"");
        foreach (var c in s)
        {
            if (c is '"' or '\\')
            {
                text.Append('\\').Append(c);
            }
            else if (c < ' ' || c > '~')
            {
                text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                text.Append(c);
            }
        }

        return text.Append('"').ToString();
    }

    /// <summary>Percent-encodes a string for a URL; a lone surrogate becomes its (invalid) 3-byte UTF-8 form.</summary>
    private static string Encode(string s)
    {
        var text = new StringBuilder();
        foreach (var c in s)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~')
            {
                text.Append(c);
            }
            else if (char.IsSurrogate(c))
            {
                text.Append(CultureInfo.InvariantCulture, $"%{0xE0 | (c >> 12):X2}%{0x80 | ((c >> 6) & 0x3F):X2}%{0x80 | (c & 0x3F):X2}");
            }
            else
            {
                foreach (var b in Encoding.UTF8.GetBytes(c.ToString()))
                {
                    text.Append(CultureInfo.InvariantCulture, $"%{b:X2}");
                }
            }
        }

        return text.ToString();
    }
}
