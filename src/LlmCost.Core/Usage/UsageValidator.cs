namespace LlmCost.Core.Usage;

/// <summary>Placeholder owned by the usage-normalisation work: validates subset rules of <see cref="CanonicalUsage"/>.</summary>
public static class UsageValidator
{
}
