using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace LlmCost.Functions.Hosting.Auth;

/// <summary><c>Authorization: Bearer &lt;key&gt;</c> → a principal with the role/tenant/user/key claims of <see cref="LlmCostAuth"/>.</summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyService keys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail("Authorization must be 'Bearer <api key>'");
        }

        ApiKeyIdentity? identity = await keys.VerifyAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted);
        if (identity is null)
        {
            // Never echo or log the presented key.
            return AuthenticateResult.Fail("unknown or revoked API key");
        }

        var claims = new List<Claim>
        {
            new(LlmCostAuth.KeyIdClaim, identity.KeyId),
            new(LlmCostAuth.RoleClaim, identity.Role),
        };
        if (identity.TenantId is not null)
        {
            claims.Add(new Claim(LlmCostAuth.TenantClaim, identity.TenantId));
        }

        if (identity.UserId is not null)
        {
            claims.Add(new Claim(LlmCostAuth.UserClaim, identity.UserId));
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, LlmCostAuth.Scheme, LlmCostAuth.KeyIdClaim, LlmCostAuth.RoleClaim));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, LlmCostAuth.Scheme));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Unauthorized",
            detail: "Send a valid API key as 'Authorization: Bearer <key>'.").ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        await Results.Problem(
            statusCode: StatusCodes.Status403Forbidden,
            title: "Forbidden",
            detail: "This API key's role does not allow this operation.").ExecuteAsync(Context);
    }
}
