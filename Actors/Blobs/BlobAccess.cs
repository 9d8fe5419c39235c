using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Moe.Actors.Blobs;

/// <summary>
/// Who may do what on a blob server: reading and storing need the shared token, deleting the administrator token
/// (every node holds the shared one), and no upload may exceed the configured size.
/// </summary>
public sealed record BlobAccess(string? Token, string? AdminToken, long MaxUploadBytes)
{
    public static BlobAccess From(BlobStoreSettings settings) => new(settings.ResolveToken(), settings.AdminToken, settings.MaxUploadBytes ?? BlobStoreSettings.DefaultMaxUploadBytes);

    /// <summary>Null when <paramref name="request"/> may go on, else the answer that refuses it.</summary>
    public IResult? Refusal(HttpRequest request)
    {
        var presented = request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.Ordinal)
            ? header["Bearer ".Length..]
            : null;
        if (HttpMethods.IsDelete(request.Method))
        {
            return Matches(presented, AdminToken)
                ? null
                : Results.Problem("Deleting blobs over HTTP needs the administrator token (Blobs:AdminToken).", statusCode: StatusCodes.Status403Forbidden);
        }
        if (Token is not null && !Matches(presented, Token))
            return Results.Problem("This blob store needs its token (Blobs:Token or Blobs:TokenFile) as a bearer token.", statusCode: StatusCodes.Status401Unauthorized);
        return null;
    }

    // In constant time: a wrong token takes as long to refuse whatever it shares with the right one.
    private static bool Matches(string? presented, string? expected) =>
        presented is not null && expected is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
