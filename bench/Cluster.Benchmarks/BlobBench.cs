using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Moe.Actors.Blobs;
using Moe.Model.Network;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Benchmarks;

/// <summary>
/// The cost of a round's transfers: each trainer reads the global parameters and stores its delta (the same
/// size). Both blob stores against a plain file copy of the same bytes, side by side in one run: as files (put and
/// get) and as a round moves them, from tensor memory into the store and back (write and read).
/// </summary>
internal static class BlobBench
{
    public static async Task Run(string directory, string presetName, int repeats)
    {
        var preset = ModelPresets.Get(presetName);
        var source = Path.Combine(directory, "parameters");
        using (var model = new MoeTransformer(preset.Model))
        using (var parameters = ParameterSet.Of(model))
            ParameterFile.Save(source, parameters);
        var bytes = new FileInfo(source).Length;
        var tensors = ParameterFile.Load(source);
        var target = Path.Combine(directory, "copy");

        var copy = Median(repeats, () =>
        {
            File.Copy(source, target, overwrite: true);
            return Task.CompletedTask;
        });

        var folder = new DirectoryBlobStore(Path.Combine(directory, "store"));
        var directoryTimes = await Transfers(folder, source, target, tensors, repeats);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var server = builder.Build();
        // Authenticated as a cluster's store is, so the figures include checking the token.
        var settings = new BlobStoreSettings { Kind = BlobStoreKind.Http, Token = "bench", AdminToken = "bench-admin" };
        server.MapBlobStore(new DirectoryBlobStore(Path.Combine(directory, "server")), BlobAccess.From(settings));
        await server.StartAsync();
        var url = new Uri(server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var client = new HttpClient();
        var http = new HttpBlobStore(client, settings with { Url = url });
        var httpTimes = await Transfers(http, source, target, tensors, repeats);

        var round = 2 * (await copy).TotalMilliseconds;
        Console.WriteLine($"Blob transfers of {presetName} parameters ({bytes / 1048576.0:F1} MiB), median of {repeats}; a round moves parameters down and a delta up:");
        Console.WriteLine($"  raw file copy    {(await copy).TotalMilliseconds,8:F1} ms");
        foreach (var (name, t) in new[] { ("directory store", directoryTimes), ("HTTP store", httpTimes) })
        {
            Console.WriteLine($"  {name,-16} files:   put {t.Put.TotalMilliseconds,6:F1} ms  get {t.Get.TotalMilliseconds,6:F1} ms  / 2 raw copies: {(t.Put + t.Get).TotalMilliseconds / round,5:F2}");
            Console.WriteLine($"  {"",-16} tensors: write {t.Write.TotalMilliseconds,4:F1} ms  read {t.Read.TotalMilliseconds,5:F1} ms  / 2 raw copies: {(t.Write + t.Read).TotalMilliseconds / round,5:F2}");
        }
        Console.WriteLine("  (a put or write hashes as it goes, syncs to disk and renames; a get or read verifies the SHA-256 at the last byte)");
    }

    private record struct Times(TimeSpan Put, TimeSpan Get, TimeSpan Write, TimeSpan Read);

    private static async Task<Times> Transfers(IBlobStore store, string source, string target, ParameterSet tensors, int repeats)
    {
        BlobRef? blob = null;
        var put = await Median(repeats, async () =>
        {
            if (blob is not null)
                await store.DeleteAsync(blob, CancellationToken.None);
            blob = await store.PutAsync(source, CancellationToken.None);
        });
        var get = await Median(repeats, () => store.GetAsync(blob!, target, CancellationToken.None));
        var write = await Median(repeats, async () =>
        {
            await store.DeleteAsync(blob!, CancellationToken.None);
            blob = await store.WriteAsync((stream, token) => Task.Run(() => ParameterFile.Save(stream, tensors), token), BlobDurability.Durable, CancellationToken.None);
        });
        var read = await Median(repeats, async () =>
        {
            using var loaded = await store.ReadAsync(blob!, (stream, token) => Task.Run(() => ParameterFile.Load(stream, "parameters"), token), CancellationToken.None);
        });
        return new Times(put, get, write, read);
    }

    private static async Task<TimeSpan> Median(int repeats, Func<Task> action)
    {
        await action(); // warm-up: JIT, page cache
        var times = new List<TimeSpan>();
        for (var k = 0; k < repeats; k++)
        {
            var watch = Stopwatch.StartNew();
            await action();
            times.Add(watch.Elapsed);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
