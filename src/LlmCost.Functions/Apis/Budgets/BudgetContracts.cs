// Long on purpose: the budgets API's wire records, one per JSON shape, each with its mapping from Core's type.
using System.Text.Json;
using System.Text.Json.Serialization;
using LlmCost.Core.Budgets;

namespace LlmCost.Functions.Apis.Budgets;

/// <summary>Reads a JSON string or number as its text, so "amount_usd":"1.00" and "amount_usd":1.00 both keep their exact digits.</summary>
public sealed class StringOrNumberConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan.ToArray()),
        JsonTokenType.Null => null,
        _ => throw new JsonException("expected a string or a number"),
    };

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value);
    }
}

public sealed record CircuitBreakerBody
{
    [JsonConverter(typeof(StringOrNumberConverter))] public string? WindowSeconds { get; init; }
    [JsonConverter(typeof(StringOrNumberConverter))] public string? Multiple { get; init; }
    [JsonConverter(typeof(StringOrNumberConverter))] public string? NormalUsdPerWindow { get; init; }
    [JsonConverter(typeof(StringOrNumberConverter))] public string? MinimumWindowSpendUsd { get; init; }
    [JsonConverter(typeof(StringOrNumberConverter))] public string? CooldownSeconds { get; init; }
}

/// <summary>POST /api/budgets and PUT /api/budgets/{id}.</summary>
public sealed record BudgetBody
{
    public string? TenantId { get; init; }
    public string? Scope { get; init; }
    public string? ScopeId { get; init; }
    public string? Name { get; init; }
    [JsonConverter(typeof(StringOrNumberConverter))] public string? AmountUsd { get; init; }
    [JsonConverter(typeof(StringOrNumberConverter))] public string? TokenLimit { get; init; }
    public string? Period { get; init; }
    public string? Alignment { get; init; }
    public string? Timezone { get; init; }
    public string? Mode { get; init; }
    public IReadOnlyList<JsonElement>? Thresholds { get; init; }
    public bool? AlertOnProjectedOverrun { get; init; }
    public CircuitBreakerBody? CircuitBreaker { get; init; }

    public BudgetDraft ToDraft() => new()
    {
        TenantId = TenantId,
        Scope = Scope,
        ScopeId = ScopeId,
        Name = Name,
        AmountUsd = AmountUsd,
        TokenLimit = TokenLimit,
        Period = Period,
        Alignment = Alignment,
        TimeZone = Timezone,
        Mode = Mode,
        Thresholds = Thresholds?.Select(t => t.ValueKind == JsonValueKind.String ? t.GetString() ?? string.Empty : t.GetRawText()).ToList(),
        AlertOnProjectedOverrun = AlertOnProjectedOverrun,
        CircuitBreaker = CircuitBreaker is { } cb ? new CircuitBreakerDraft
        {
            WindowSeconds = cb.WindowSeconds,
            Multiple = cb.Multiple,
            NormalUsdPerWindow = cb.NormalUsdPerWindow,
            MinimumWindowSpendUsd = cb.MinimumWindowSpendUsd,
            CooldownSeconds = cb.CooldownSeconds,
        } : null,
    };
}

public sealed record CircuitBreakerResponse(string WindowSeconds, string Multiple, string? NormalUsdPerWindow, string MinimumWindowSpendUsd, string CooldownSeconds);

public sealed record BudgetResponse
{
    public required string BudgetId { get; init; }
    public required string TenantId { get; init; }
    public required string Scope { get; init; }
    public required string ScopeId { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Name { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? AmountUsd { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? TokenLimit { get; init; }
    public required string Period { get; init; }
    public required string Alignment { get; init; }
    public required string Timezone { get; init; }
    public required string Mode { get; init; }
    public required IReadOnlyList<string> Thresholds { get; init; }
    public bool AlertOnProjectedOverrun { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public CircuitBreakerResponse? CircuitBreaker { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Profile { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? UpdatedBy { get; init; }

    public static BudgetResponse From(BudgetDefinition b)
    {
        ArgumentNullException.ThrowIfNull(b);
        return new BudgetResponse
        {
            BudgetId = b.BudgetId,
            TenantId = b.TenantId,
            Scope = BudgetNames.Of(b.Scope),
            ScopeId = b.ScopeId,
            Name = b.Name,
            AmountUsd = Wire.Money(b.AmountUsd),
            TokenLimit = b.TokenLimit,
            Period = BudgetNames.Of(b.Period),
            Alignment = BudgetNames.Of(b.Alignment),
            Timezone = b.TimeZone,
            Mode = BudgetNames.Of(b.Mode),
            Thresholds = b.ThresholdPercents.Select(t => t.ToString(CultureInfo.InvariantCulture)).ToList(),
            AlertOnProjectedOverrun = b.AlertOnProjectedOverrun,
            CircuitBreaker = b.CircuitBreaker is { } cb ? new CircuitBreakerResponse(
                cb.Window.TotalSeconds.ToString(CultureInfo.InvariantCulture),
                cb.Multiple.ToString(CultureInfo.InvariantCulture),
                Wire.Money(cb.NormalUsdPerWindow),
                cb.MinimumWindowSpendUsd.ToString(CultureInfo.InvariantCulture),
                cb.Cooldown.TotalSeconds.ToString(CultureInfo.InvariantCulture)) : null,
            Profile = b.Profile,
            CreatedAt = b.CreatedAt,
            UpdatedAt = b.UpdatedAt,
            UpdatedBy = b.UpdatedBy,
        };
    }
}

/// <summary>POST /api/budgets/reservations/{reservation_id}/release.</summary>
public sealed record ReleaseBody(string? TenantId, string? UserId);

public sealed record ReleaseResponse(string ReservationId, string Status);

public sealed record StandingResponse
{
    public required string BudgetId { get; init; }
    public required string Scope { get; init; }
    public required string Subject { get; init; }
    public required string Mode { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? LimitUsd { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? RemainingUsd { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? TokenLimit { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? RemainingTokens { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? PeriodKey { get; init; }
}

public sealed record AuthorizeResponse
{
    public required string Decision { get; init; }
    public string? ReservationId { get; init; }
    public required string ReservedUsd { get; init; }
    public long ReservedTokens { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? ExpiresAt { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? SuggestedProvider { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? SuggestedModel { get; init; }
    public required IReadOnlyList<StandingResponse> Budgets { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Reason { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? BudgetId { get; init; }
    public bool Replayed { get; init; }

    public static AuthorizeResponse From(AuthorizationDecision d)
    {
        ArgumentNullException.ThrowIfNull(d);
        return new AuthorizeResponse
        {
            Decision = d.Outcome.ToString().ToLowerInvariant(),
            ReservationId = d.ReservationId,
            ReservedUsd = Wire.Money(d.ReservedUsd)!,
            ReservedTokens = d.ReservedTokens,
            ExpiresAt = d.ExpiresAt,
            SuggestedProvider = d.SuggestedProvider,
            SuggestedModel = d.SuggestedModel,
            Budgets = d.Budgets.Select(b => new StandingResponse
            {
                BudgetId = b.BudgetId,
                Scope = BudgetNames.Of(b.Scope),
                Subject = b.Subject,
                Mode = BudgetNames.Of(b.Mode),
                LimitUsd = Wire.Money(b.LimitUsd),
                RemainingUsd = Wire.Money(b.RemainingUsd),
                TokenLimit = b.TokenLimit,
                RemainingTokens = b.RemainingTokens,
                PeriodKey = b.PeriodKey,
            }).ToList(),
            Reason = d.Reason,
            BudgetId = d.LimitingBudgetId,
            Replayed = d.Replayed,
        };
    }
}

public sealed record StatusResponse
{
    public required string BudgetId { get; init; }
    public required string TenantId { get; init; }
    public required string Subject { get; init; }
    public required string Mode { get; init; }
    public required string Period { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? PeriodStart { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? PeriodEnd { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? AmountUsd { get; init; }
    public required string SpentUsd { get; init; }
    public required string ReservedUsd { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? RemainingUsd { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? ForecastUsd { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? TokenLimit { get; init; }
    public long SpentTokens { get; init; }
    public long ReservedTokens { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? RemainingTokens { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? ForecastTokens { get; init; }

    /// <summary>How <c>forecast_usd</c>/<c>forecast_tokens</c> was made: its interval and the day it reaches the limit.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public ForecastDetail? ForecastDetail { get; init; }

    public long ActiveReservations { get; init; }
    public long EventCount { get; init; }
    public long UnpricedEvents { get; init; }
    public required IReadOnlyList<string> FiredAlerts { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? TrippedUntil { get; init; }

    /// <summary>Actual spend beyond the limit (USD for a USD budget, tokens for a token budget).</summary>
    public required string Overspent { get; init; }

    public long LateSettlements { get; init; }
    public required string SeededUsd { get; init; }
    public long SeededTokens { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? SeedCutoff { get; init; }

    /// <summary>The USD amounts in the requested <c>currency</c> (absent without one).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public LlmCost.Functions.Apis.Pricing.BudgetCurrencyAmounts? Currency { get; init; }

    public static StatusResponse From(BudgetStatus s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var usd = s.Budget.IsUsd;
        return new StatusResponse
        {
            BudgetId = s.Budget.BudgetId,
            TenantId = s.Budget.TenantId,
            Subject = s.Subject,
            Mode = BudgetNames.Of(s.Budget.Mode),
            Period = BudgetNames.Of(s.Budget.Period),
            PeriodStart = s.Window?.Start,
            PeriodEnd = s.Window?.End,
            AmountUsd = Wire.Money(s.Budget.AmountUsd),
            SpentUsd = Wire.Money(s.SpentUsd)!,
            ReservedUsd = Wire.Money(s.ReservedUsd)!,
            RemainingUsd = Wire.Money(s.RemainingUsd),
            ForecastUsd = usd ? Wire.Money(s.Forecast?.ProjectedTotal) : null,
            TokenLimit = s.Budget.TokenLimit,
            SpentTokens = s.SpentTokens,
            ReservedTokens = s.ReservedTokens,
            RemainingTokens = s.RemainingTokens,
            ForecastTokens = !usd && s.Forecast is { } f ? (long)decimal.Ceiling(f.ProjectedTotal) : null,
            ForecastDetail = s.Forecast is { } forecast ? ForecastDetail.From(forecast, s.Budget) : null,
            ActiveReservations = s.ActiveReservations,
            EventCount = s.EventCount,
            UnpricedEvents = s.UnpricedEvents,
            FiredAlerts = s.FiredAlerts,
            TrippedUntil = s.TrippedUntil,
            Overspent = Wire.Money(s.Overspent)!,
            LateSettlements = s.LateSettlements,
            SeededUsd = Wire.Money(s.SeededUsd)!,
            SeededTokens = s.SeededTokens,
            SeedCutoff = s.SeedCutoff,
        };
    }
}

/// <summary>
/// A budget's projection beyond its point value: the prediction interval (in the budget's unit), the method
/// ("trend_dow", "trend", "run_rate" with little history, "closed"), the complete days it learnt from, and the UTC
/// day the point forecast reaches the limit (absent when it does not this period or has already).
/// </summary>
public sealed record ForecastDetail
{
    public required string Method { get; init; }
    public required double ConfidenceLevel { get; init; }
    public required string Lower { get; init; }
    public required string Upper { get; init; }
    public int TrainingDays { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateOnly? ExhaustionDate { get; init; }

    public static ForecastDetail From(LlmCost.Core.Forecasting.SpendForecast forecast, BudgetDefinition budget)
    {
        ArgumentNullException.ThrowIfNull(forecast);
        ArgumentNullException.ThrowIfNull(budget);
        string Amount(decimal value) => budget.IsUsd ? Wire.Money(value)! : decimal.Ceiling(value).ToString(CultureInfo.InvariantCulture);
        return new ForecastDetail
        {
            Method = forecast.Method,
            ConfidenceLevel = forecast.ConfidenceLevel,
            Lower = Amount(forecast.Lower),
            Upper = Amount(forecast.Upper),
            TrainingDays = forecast.TrainingDays,
            ExhaustionDate = forecast.ReachesOn(BudgetUnits.Limit(budget)),
        };
    }
}

public sealed record FreezeBody(string? TenantId, string? Scope, string? ScopeId, string? Reason);

public sealed record FreezeResponse(string TenantId, string Scope, string ScopeId, bool Frozen, DateTimeOffset At, string By, string? Reason);

public sealed record ProfileBody(string? TenantId, string? Profile);

/// <summary>An alert (not sealed: the alert feed adds its read and delivery state to the same fields).</summary>
public record AlertResponse(
    string AlertId,
    string Kind,
    string TenantId,
    string Scope,
    string ScopeId,
    DateTimeOffset CreatedAt,
    string? BudgetId,
    string? ThresholdPercent,
    string? Message,
    IReadOnlyDictionary<string, string> Details);

public sealed record BudgetListResponse(string TenantId, IReadOnlyList<BudgetResponse> Budgets);

public sealed record ProfileBudgetView(string? Scope, string? ScopeId, string? Name, string? AmountUsd, string? Period, string? Mode);

public sealed record ProfileView(string Name, IReadOnlyList<ProfileBudgetView> Budgets);

public sealed record ProfileListResponse(IReadOnlyList<ProfileView> Profiles);

public sealed record ProfileAppliedResponse(string? TenantId, string? Profile, IReadOnlyList<BudgetResponse> Budgets);

public sealed record FreezeListResponse(string TenantId, IReadOnlyList<FreezeResponse> Freezes);

public sealed record PendingAlertsResponse(string TenantId, IReadOnlyList<AlertResponse> Alerts);

public sealed record ExpiredReservationsResponse(int Expired);

internal static class Wire
{
    public static string? Money(decimal? value) => LlmCost.Core.MoneyFormat.Format(value);
}
