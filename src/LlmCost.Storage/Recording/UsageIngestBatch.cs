// Long on purpose: the batch row's encoder and decoder (one row per ingest-log transaction) must stay in step, so they share a file.
using System.Buffers;
using System.Globalization;
using System.IO.Compression;
using Azure.Data.Tables;
using LlmCost.Core.Pricing;
using LlmCost.Core.Recording;
using LlmCost.Core.Usage;
using MessagePack;

namespace LlmCost.Storage.Recording;

/// <summary>
/// One event in the ingest log's binary form: a MessagePack array of its fields in a fixed order (format 1), so a
/// stuck row can be read with any MessagePack tool, and a reader skips fields appended by a newer version.
/// </summary>
/// <remarks>
/// Fields: event id, id generated, tenant, user, team?, app?, provider, model, timestamp (UTC ticks), usage (map
/// usage key → count, every non-zero unit, requests always), latency?, status, tags (map), cost (decimal as an
/// invariant string: exact), priced, unpriced reason?, reported cost?, priced provider?, priced model?, price
/// source?, reservation id?, received time (UTC ticks), then appended: list cost, policy version?, catalog
/// version?, the recording key id?. <c>CanonicalUsage.Passes</c> is not kept (as in every
/// stored row: the usage is their sum and the cost is already priced). A usage key this version does not know is
/// an error, never skipped: a batch written by a newer version waits for an instance that can count it.
/// </remarks>
internal static class UsageEventCodec
{
    private const int FieldCount = 22;

    // Appended after the format-1 fields (older readers skip them; older events lack them): list cost, policy
    // version, catalog version, then the recording key id.
    private const int PricingFields = 3;
    private const int FieldCountWithKey = FieldCount + PricingFields + 1;

    public static byte[] Encode(UsageEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var buffer = new ArrayBufferWriter<byte>(256);
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(FieldCountWithKey);
        writer.Write(e.EventId);
        writer.Write(e.EventIdGenerated);
        writer.Write(e.TenantId);
        writer.Write(e.UserId);
        writer.Write(e.TeamId);
        writer.Write(e.App);
        writer.Write(e.Provider);
        writer.Write(e.Model);
        writer.Write(e.Timestamp.UtcTicks);
        UnitCounts units = e.Usage.Units;
        bool requestsListed = e.Usage.Requests != 0;
        writer.WriteMapHeader(units.Count + (requestsListed ? 0 : 1));
        if (!requestsListed)
        {
            writer.Write(UsageUnits.Get("requests").UsageKey);
            writer.Write(0L);
        }

        foreach ((UsageUnit unit, long count) in units)
        {
            writer.Write(unit.UsageKey);
            writer.Write(count);
        }

        if (e.LatencyMs is { } latency)
        {
            writer.Write(latency);
        }
        else
        {
            writer.WriteNil();
        }

        writer.Write(e.Status);
        writer.WriteMapHeader(e.Tags.Count);
        foreach ((string key, string value) in e.Tags)
        {
            writer.Write(key);
            writer.Write(value);
        }

        writer.Write(Money(e.CostUsd));
        writer.Write(e.Priced);
        writer.Write(e.UnpricedReason);
        writer.Write(e.ReportedCostUsd is { } reported ? Money(reported) : null);
        writer.Write(e.PricedProvider);
        writer.Write(e.PricedModel);
        writer.Write(e.PriceSource);
        writer.Write(e.ReservationId);
        writer.Write(e.RecordedAt.UtcTicks);
        writer.Write(Money(e.ListCostUsd));
        if (e.PolicyVersion is { } policyVersion)
        {
            writer.Write(policyVersion);
        }
        else
        {
            writer.WriteNil();
        }

        writer.Write(e.CatalogVersion);
        writer.Write(e.KeyId);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads one event; throws <see cref="InvalidDataException"/> for anything this version cannot read exactly.</summary>
    public static UsageEvent Decode(ref MessagePackReader reader)
    {
        int fields = reader.ReadArrayHeader();
        if (fields < FieldCount)
        {
            throw new InvalidDataException($"an ingest-log event has {fields} fields, format 1 has {FieldCount}");
        }

        string eventId = Required(reader.ReadString(), "event id");
        bool generated = reader.ReadBoolean();
        string tenant = Required(reader.ReadString(), "tenant");
        string user = Required(reader.ReadString(), "user");
        string? team = reader.ReadString();
        string? app = reader.ReadString();
        string provider = Required(reader.ReadString(), "provider");
        string model = Required(reader.ReadString(), "model");
        DateTimeOffset timestamp = Utc(reader.ReadInt64());
        var usage = new CanonicalUsage.Builder();
        usage.Set(UsageUnits.Get("requests"), 0);
        int units = reader.ReadMapHeader();
        for (int i = 0; i < units; i++)
        {
            string key = Required(reader.ReadString(), "usage key");
            if (!UsageUnits.TryGetByUsageKey(key, out UsageUnit unit))
            {
                throw new InvalidDataException($"usage unit '{key}' is not known to this version");
            }

            usage.Set(unit, reader.ReadInt64());
        }

        long? latency = reader.TryReadNil() ? null : reader.ReadInt64();
        string status = Required(reader.ReadString(), "status");
        int tagCount = reader.ReadMapHeader();
        var tags = new Dictionary<string, string>(tagCount, StringComparer.Ordinal);
        for (int i = 0; i < tagCount; i++)
        {
            tags[Required(reader.ReadString(), "tag name")] = Required(reader.ReadString(), "tag value");
        }

        decimal cost = ParseMoney(Required(reader.ReadString(), "cost"));
        bool priced = reader.ReadBoolean();
        string? unpricedReason = reader.ReadString();
        string? reported = reader.ReadString();
        string? pricedProvider = reader.ReadString();
        string? pricedModel = reader.ReadString();
        string? priceSource = reader.ReadString();
        string? reservation = reader.ReadString();
        DateTimeOffset recordedAt = Utc(reader.ReadInt64());
        decimal listCost = cost;
        int? policyVersion = null;
        string? catalogVersion = null;
        int read = FieldCount;
        if (fields >= FieldCount + PricingFields)
        {
            listCost = ParseMoney(Required(reader.ReadString(), "list cost"));
            policyVersion = reader.TryReadNil() ? null : reader.ReadInt32();
            catalogVersion = reader.ReadString();
            read += PricingFields;
        }

        string? keyId = null;
        if (fields >= FieldCountWithKey)
        {
            keyId = reader.ReadString();
            read++;
        }

        for (int i = read; i < fields; i++)
        {
            reader.Skip(); // appended by a newer version
        }

        return new UsageEvent
        {
            EventId = eventId,
            EventIdGenerated = generated,
            TenantId = tenant,
            UserId = user,
            TeamId = team,
            App = app,
            Provider = provider,
            Model = model,
            Timestamp = timestamp,
            Usage = usage.Build(),
            LatencyMs = latency,
            Status = status,
            Tags = tags,
            CostUsd = cost,
            Priced = priced,
            UnpricedReason = unpricedReason,
            ReportedCostUsd = reported is null ? null : ParseMoney(reported),
            PricedProvider = pricedProvider,
            PricedModel = pricedModel,
            PriceSource = priceSource,
            ReservationId = reservation,
            KeyId = keyId,
            RecordedAt = recordedAt,
            ListCostUsd = listCost,
            PolicyVersion = policyVersion,
            CatalogVersion = catalogVersion,
        };
    }

    private static string Money(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    private static decimal ParseMoney(string text) =>
        decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out decimal value)
            ? value
            : throw new InvalidDataException($"'{text}' is not a decimal amount");

    private static DateTimeOffset Utc(long ticks) =>
        ticks >= DateTimeOffset.MinValue.UtcTicks && ticks <= DateTimeOffset.MaxValue.UtcTicks
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : throw new InvalidDataException($"{ticks} is not a time");

    private static string Required(string? value, string what) =>
        value ?? throw new InvalidDataException($"an ingest-log event has no {what}");
}

/// <summary>
/// The ingest log's BATCH ROW: every event of one log transaction in one entity, so the hot path writes one id row
/// per event plus one row per transaction (~1 entity per event), not two.
/// </summary>
/// <remarks>
/// <para>Properties: <c>Kind</c> "batch", <c>Events</c> (count), <c>Format</c> (1), <c>Compression</c> ("none" or
/// "br"), <c>RawBytes</c> (payload length before compression), and the payload split over binary properties
/// <c>D00</c>, <c>D01</c>, … of at most 64 KiB each. The payload is a MessagePack array of
/// <see cref="UsageEventCodec"/> events; Brotli (quality 1, fast) is applied when it saves at least an eighth.</para>
/// <para>Limits, checked in code: at most <see cref="MaxChunks"/> chunks (<see cref="MaxPayloadBytes"/>) so the
/// entity stays under 1 MiB by the service's own formula (<see cref="TableLimits"/>); the writer splits a
/// transaction by the UNCOMPRESSED sizes, so compression can only make a row smaller than planned. With at most
/// 99 id rows next to it the transaction body stays far under 4 MiB (base64 of 960 KiB is 1.3 MB).</para>
/// </remarks>
internal static class IngestBatchRow
{
    public const string Kind = "batch";
    public const int Format = 1;

    /// <summary>Binary properties per row: 15 × 64 KiB plus the small properties stays under 1 MiB with margin.</summary>
    public const int MaxChunks = 15;

    public const int MaxPayloadBytes = MaxChunks * TableLimits.MaxBinaryBytes;

    /// <summary>The array header in front of the events (a MessagePack array32 header at most).</summary>
    public const int HeaderBytes = 5;

    /// <summary>The largest event one row can carry (encoded); larger is refused before anything is written.</summary>
    public const int MaxEventBytes = MaxPayloadBytes - HeaderBytes;

    private const int CompressAbove = 1024;

    public static TableEntity Build(string partitionKey, string rowKey, IReadOnlyList<byte[]> encodedEvents)
    {
        ArgumentNullException.ThrowIfNull(encodedEvents);
        int raw = HeaderBytes + encodedEvents.Sum(e => e.Length);
        if (encodedEvents.Count == 0 || raw > MaxPayloadBytes)
        {
            throw new ArgumentException($"a batch row holds 1 or more events in at most {MaxPayloadBytes} bytes (got {encodedEvents.Count} events, {raw} bytes)", nameof(encodedEvents));
        }

        var buffer = new ArrayBufferWriter<byte>(raw);
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(encodedEvents.Count);
        foreach (byte[] e in encodedEvents)
        {
            writer.WriteRaw(e);
        }

        writer.Flush();
        ReadOnlySpan<byte> payload = buffer.WrittenSpan;
        string compression = "none";
        byte[] stored = payload.ToArray();
        if (payload.Length > CompressAbove)
        {
            byte[] compressed = new byte[BrotliEncoder.GetMaxCompressedLength(payload.Length)];
            if (BrotliEncoder.TryCompress(payload, compressed, out int written, quality: 1, window: 22) && written <= payload.Length - payload.Length / 8)
            {
                stored = compressed.AsSpan(0, written).ToArray();
                compression = "br";
            }
        }

        var entity = new TableEntity(partitionKey, rowKey)
        {
            ["Kind"] = Kind,
            ["Events"] = encodedEvents.Count,
            ["Format"] = Format,
            ["Compression"] = compression,
            ["RawBytes"] = payload.Length,
        };
        int chunks = 0;
        for (int offset = 0; offset < stored.Length; offset += TableLimits.MaxBinaryBytes, chunks++)
        {
            int length = Math.Min(TableLimits.MaxBinaryBytes, stored.Length - offset);
            entity[ChunkName(chunks)] = stored.AsSpan(offset, length).ToArray();
        }

        if (TableLimits.Problem(entity) is { } problem)
        {
            throw new InvalidOperationException($"batch row {rowKey} would break a storage limit: {problem.Property} {problem.Reason}");
        }

        return entity;
    }

    public static bool IsBatch(TableEntity entity) => entity.GetString("Kind") == Kind;

    /// <summary>The row's event count (1 for a row of the previous one-event format).</summary>
    public static int EventCount(TableEntity entity) => IsBatch(entity) ? entity.GetInt32("Events") ?? 0 : 1;

    /// <summary>Reads every event of a batch row; <see cref="InvalidDataException"/> when it cannot be read exactly.</summary>
    public static List<UsageEvent> Read(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        if (entity.GetInt32("Format") is not Format)
        {
            throw new InvalidDataException($"batch row {entity.RowKey} has format {entity.GetInt32("Format")}, this version reads {Format}");
        }

        int count = entity.GetInt32("Events") ?? throw new InvalidDataException($"batch row {entity.RowKey} has no event count");
        int rawBytes = entity.GetInt32("RawBytes") ?? throw new InvalidDataException($"batch row {entity.RowKey} has no length");
        var chunks = new List<byte[]>();
        for (int i = 0; i < MaxChunks && entity.GetBinary(ChunkName(i)) is { } chunk; i++)
        {
            chunks.Add(chunk);
        }

        byte[] stored = new byte[chunks.Sum(c => c.Length)];
        int at = 0;
        foreach (byte[] chunk in chunks)
        {
            chunk.CopyTo(stored, at);
            at += chunk.Length;
        }

        byte[] payload;
        switch (entity.GetString("Compression"))
        {
            case "none":
                payload = stored;
                break;
            case "br":
                payload = new byte[rawBytes];
                if (!BrotliDecoder.TryDecompress(stored, payload, out int written) || written != rawBytes)
                {
                    throw new InvalidDataException($"batch row {entity.RowKey} does not decompress to {rawBytes} bytes");
                }

                break;
            case var other:
                throw new InvalidDataException($"batch row {entity.RowKey} has unknown compression '{other}'");
        }

        if (payload.Length != rawBytes)
        {
            throw new InvalidDataException($"batch row {entity.RowKey} holds {payload.Length} bytes, expected {rawBytes}");
        }

        try
        {
            var reader = new MessagePackReader(payload);
            int n = reader.ReadArrayHeader();
            if (n != count)
            {
                throw new InvalidDataException($"batch row {entity.RowKey} holds {n} events, expected {count}");
            }

            var events = new List<UsageEvent>(n);
            for (int i = 0; i < n; i++)
            {
                events.Add(UsageEventCodec.Decode(ref reader));
            }

            return reader.End ? events : throw new InvalidDataException($"batch row {entity.RowKey} has trailing bytes");
        }
        catch (MessagePackSerializationException ex)
        {
            throw new InvalidDataException($"batch row {entity.RowKey} is not a readable event list: {ex.Message}", ex);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"batch row {entity.RowKey} is truncated", ex);
        }
    }

    private static string ChunkName(int index) => "D" + index.ToString("D2", CultureInfo.InvariantCulture);
}
