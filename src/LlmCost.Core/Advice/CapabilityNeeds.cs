using LlmCost.Core.Capabilities;

namespace LlmCost.Core.Advice;

/// <summary>
/// What a call (or recorded traffic) needs from a model. One check shared by the selector, the downgrade catalog
/// and the cheaper-model recommendation, so that the three never disagree on what "can do the same work" means.
/// </summary>
/// <param name="MinContextTokens">The context window must hold at least this many tokens (input + output).</param>
/// <param name="MinOutputTokens">The output limit must allow this many tokens (unknown limit: allowed, with a note).</param>
public readonly record struct CapabilityNeeds(
    Modalities Input,
    Modalities Output,
    bool Tools,
    bool Reasoning,
    long MinContextTokens,
    long MinOutputTokens)
{
    public static CapabilityNeeds Text { get; } = new(Modalities.Text, Modalities.Text, false, false, 0, 0);

    /// <summary>What a call to <paramref name="model"/> may rely on: its modalities, tools, reasoning and (optionally) its whole context.</summary>
    public static CapabilityNeeds SameAs(ModelCapabilities model, bool wholeContext) => new(
        model.Input,
        model.Output,
        model.ToolCalling,
        model.Reasoning,
        wholeContext ? model.ContextTokens ?? 0 : 0,
        0);

    /// <summary>Adds every reason <paramref name="model"/> does not meet these needs at <paramref name="at"/>; none = it meets them.</summary>
    public void Check(ModelCapabilities model, DateTimeOffset at, List<SelectionReason> reasons)
    {
        ModelStatus status = model.StatusAt(at);
        if (status != ModelStatus.Active)
        {
            reasons.Add(new SelectionReason(status == ModelStatus.Retired ? ExclusionCodes.Retired : ExclusionCodes.Deprecated, model.NotCurrentReason(at)!));
        }

        Modalities missingIn = Input & ~model.Input;
        if (missingIn != Modalities.None)
        {
            reasons.Add(new SelectionReason(ExclusionCodes.InputModality, $"does not accept {string.Join(", ", ModalityNames.Names(missingIn))} input"));
        }

        Modalities missingOut = Output & ~model.Output;
        if (missingOut != Modalities.None)
        {
            reasons.Add(new SelectionReason(ExclusionCodes.OutputModality, $"does not produce {string.Join(", ", ModalityNames.Names(missingOut))} output"));
        }

        if (Tools && !model.ToolCalling)
        {
            reasons.Add(new SelectionReason(ExclusionCodes.NoTools, "no tool calling"));
        }

        if (Reasoning && !model.Reasoning)
        {
            reasons.Add(new SelectionReason(ExclusionCodes.NoReasoning, "not a reasoning model"));
        }

        if (MinContextTokens > 0)
        {
            if (model.ContextTokens is not { } context)
            {
                reasons.Add(new SelectionReason(ExclusionCodes.ContextUnknown, $"context window unknown; {MinContextTokens} tokens needed"));
            }
            else if (context < MinContextTokens)
            {
                reasons.Add(new SelectionReason(ExclusionCodes.ContextTooSmall, $"context window {context} < {MinContextTokens} tokens needed"));
            }
        }

        if (MinOutputTokens > 0 && model.MaxOutputTokens is { } maxOutput && maxOutput < MinOutputTokens)
        {
            reasons.Add(new SelectionReason(ExclusionCodes.OutputLimit, $"output limit {maxOutput} < {MinOutputTokens} tokens expected"));
        }
    }

    /// <summary>The needs met, in words (for a kept candidate's explanation).</summary>
    public string Describe(ModelCapabilities model)
    {
        var parts = new List<string>
        {
            $"{string.Join("+", ModalityNames.Names(Input))} in, {string.Join("+", ModalityNames.Names(Output))} out",
        };
        if (Tools)
        {
            parts.Add("tool calling");
        }

        if (Reasoning)
        {
            parts.Add("reasoning");
        }

        if (MinContextTokens > 0)
        {
            parts.Add($"context {model.ContextTokens} >= {MinContextTokens}");
        }

        if (MinOutputTokens > 0)
        {
            parts.Add(model.MaxOutputTokens is { } max ? $"output limit {max} >= {MinOutputTokens}" : "output limit unknown (context fits)");
        }

        return "meets: " + string.Join("; ", parts);
    }
}
