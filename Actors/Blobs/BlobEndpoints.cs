using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Moe.Actors.Blobs;

/// <summary>
/// The HTTP blob store served by the coordinator's node for clusters without a shared volume:
/// GET, PUT and DELETE on /blobs/{sha256}, each allowed by <see cref="BlobAccess"/>. An upload is hashed as it
/// arrives and becomes visible only if it matches its id and Content-Length; an upload cut short leaves nothing
/// behind.
/// </summary>
public static class BlobEndpoints
{
    public const string Prefix = "/blobs";

    /// <summary>Carries an upload's <see cref="BlobDurability"/>; absent or unknown: durable.</summary>
    public const string DurabilityHeader = "X-Moe-Blob-Durability";

    public static IEndpointRouteBuilder MapBlobStore(this IEndpointRouteBuilder endpoints, DirectoryBlobStore store, BlobAccess access)
    {
        var blobs = endpoints.MapGroup(Prefix).AddEndpointFilter(async (context, next) =>
            access.Refusal(context.HttpContext.Request) ?? await next(context).ConfigureAwait(false));

        blobs.MapGet("/{id}", (string id, HttpContext context) =>
        {
            if (!BlobRef.IsValidId(id))
                return Results.BadRequest($"\"{id}\" is not a SHA-256 blob id.");
            var path = store.PathOf(id);
            return File.Exists(path)
                ? Results.File(path, "application/octet-stream", enableRangeProcessing: false)
                : Results.NotFound($"Blob {id} is not stored here.");
        });

        blobs.MapPut("/{id}", async (string id, HttpContext context) =>
        {
            if (!BlobRef.IsValidId(id))
                return Results.BadRequest($"\"{id}\" is not a SHA-256 blob id.");
            if (context.Request.ContentLength is not { } length)
                return Results.StatusCode(StatusCodes.Status411LengthRequired);
            if (length > access.MaxUploadBytes)
                return Results.Problem($"An upload of {length} bytes exceeds this store's limit of {access.MaxUploadBytes} (Blobs:MaxUploadBytes).", statusCode: StatusCodes.Status413PayloadTooLarge);
            // Kestrel refuses bodies over 30 MB by default; parameters of larger presets exceed that.
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = access.MaxUploadBytes;
            try
            {
                var durability = Enum.TryParse<BlobDurability>(context.Request.Headers[DurabilityHeader], out var asked) ? asked : BlobDurability.Durable;
                var stored = await store.PutAsync(context.Request.Body, new BlobRef(id, length), durability, context.RequestAborted).ConfigureAwait(false);
                return Results.Created($"{Prefix}/{stored.Sha256}", null);
            }
            catch (BlobCorruptedException e)
            {
                return Results.UnprocessableEntity(e.Message);
            }
        });

        blobs.MapDelete("/{id}", async (string id) =>
        {
            if (!BlobRef.IsValidId(id))
                return Results.BadRequest($"\"{id}\" is not a SHA-256 blob id.");
            await store.DeleteAsync(new BlobRef(id, 0), CancellationToken.None).ConfigureAwait(false);
            return Results.NoContent();
        });
        return endpoints;
    }
}
