using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Hosting;

/// <summary>The one options idiom: bind a section, validate it at start-up, never on first use.</summary>
public static class SettingsRegistration
{
    /// <summary>
    /// Binds <typeparamref name="T"/> from <paramref name="section"/> with <c>AddOptions().BindConfiguration()</c>,
    /// checks it with <paramref name="validate"/> (which throws <see cref="ArgumentException"/> naming the setting) when
    /// the host starts, and registers the bound value itself for Core services that take plain settings objects.
    /// </summary>
    public static IServiceCollection AddValidatedSettings<T>(this IServiceCollection services, string section, Action<T> validate)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(validate);
        services.AddOptions<T>().BindConfiguration(section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<T>>(new Check<T>(section, validate));
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<T>>().Value);
        return services;
    }

    private static string? Problem<T>(T options, Action<T> validate)
    {
        try
        {
            validate(options);
            return null;
        }
        catch (ArgumentException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>Reports the validator's own message (naming the setting) instead of a generic one.</summary>
    private sealed class Check<T>(string section, Action<T> validate) : IValidateOptions<T>
        where T : class
    {
        public ValidateOptionsResult Validate(string? name, T options) =>
            Problem(options, validate) is { } problem ? ValidateOptionsResult.Fail($"{section}: {problem}") : ValidateOptionsResult.Success;
    }
}
