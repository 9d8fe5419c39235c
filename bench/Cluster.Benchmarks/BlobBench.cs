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
/// The cost of a round's transfers: each trainer fetches the global parameters and stores its delta (the same
/// size). Both blob stores against a plain file copy of the same bytes, side by side in one run.
/// </summary>
internal static class BlobBench
{
    public static async Task Run(string directory, string presetName, int repeats)
    {
        var preset = ModelPresets.Get(presetName);
        var source = Path.Combine(directory, "parameters");
        using (var model = new MoeTransformer(preset.Model))
            ParameterFile.Save(source, model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)));
        var bytes = new FileInfo(source).Length;
        var target = Path.Combine(directory, "copy");

        var copy = Median(repeats, () =>
        {
            File.Copy(source, target, overwrite: true);
            return Task.CompletedTask;
        });

        var folder = new DirectoryBlobStore(Path.Combine(directory, "store"));
        var (directoryPut, directoryGet) = await PutAndGet(folder, source, target, repeats);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var server = builder.Build();
        server.MapBlobStore(new DirectoryBlobStore(Path.Combine(directory, "server")));
        await server.StartAsync();
        var url = new Uri(server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var client = new HttpClient();
        var http = new HttpBlobStore(client, new BlobStoreSettings { Kind = BlobStoreKind.Http, Url = url });
        var (httpPut, httpGet) = await PutAndGet(http, source, target, repeats);

        var round = 2 * (await copy).TotalMilliseconds;
        Console.WriteLine($"Blob transfers of {presetName} parameters ({bytes / 1048576.0:F1} MiB), median of {repeats}; a round moves parameters down and a delta up:");
        Console.WriteLine($"  raw file copy          {(await copy).TotalMilliseconds,8:F1} ms");
        Console.WriteLine($"  directory store  put   {directoryPut.TotalMilliseconds,8:F1} ms   get {directoryGet.TotalMilliseconds,8:F1} ms   round / 2 raw copies: {(directoryPut + directoryGet).TotalMilliseconds / round,5:F2}");
        Console.WriteLine($"  HTTP store       put   {httpPut.TotalMilliseconds,8:F1} ms   get {httpGet.TotalMilliseconds,8:F1} ms   round / 2 raw copies: {(httpPut + httpGet).TotalMilliseconds / round,5:F2}");
        Console.WriteLine("  (put hashes, flushes to disk and renames; get verifies the SHA-256 before the file appears)");
    }

    private static async Task<(TimeSpan Put, TimeSpan Get)> PutAndGet(IBlobStore store, string source, string target, int repeats)
    {
        BlobRef? blob = null;
        var put = await Median(repeats, async () =>
        {
            if (blob is not null)
                await store.DeleteAsync(blob, CancellationToken.None);
            blob = await store.PutAsync(source, CancellationToken.None);
        });
        var get = await Median(repeats, () => store.GetAsync(blob!, target, CancellationToken.None));
        return (put, get);
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
